"""Print a new VAPID key pair (P-256) for operators who need one outside the app flow."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from integrations.services import vapid_key_pair_generate


class Command(BaseCommand):
    help = "Print a new VAPID key pair: the public key (applicationServerKey) and the private key."

    def add_arguments(self, parser):
        parser.add_argument("--pem", action="store_true", help="Also print the private key as PKCS#8 PEM.")

    def handle(self, *args, **options):
        pair = vapid_key_pair_generate()
        self.stdout.write(f"public_key={pair.public_key}")
        self.stdout.write(f"private_key={pair.private_key}")
        if options["pem"]:
            self.stdout.write(pair.private_key_pem.rstrip())
        self.stderr.write(
            "The public key is the browser's applicationServerKey (base64url, uncompressed P-256 point); "
            "keep the private key secret."
        )
