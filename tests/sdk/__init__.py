from pathlib import Path

PAGE = Path(__file__).resolve().parent / "page.html"
