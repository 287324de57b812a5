import uuid

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies: list = []

    operations = [
        migrations.CreateModel(
            name="GlobalTemplate",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ("key", models.SlugField(max_length=80, unique=True)),
                ("name", models.CharField(max_length=120)),
                ("category", models.CharField(max_length=20)),
                ("title", models.CharField(max_length=200)),
                ("body", models.TextField()),
                ("tone", models.CharField(blank=True, max_length=40)),
                ("language", models.CharField(default="en", max_length=35)),
                ("image_url", models.URLField(blank=True, max_length=1024)),
                ("click_url", models.URLField(blank=True, max_length=1024)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={"ordering": ["category", "name"]},
        ),
    ]
