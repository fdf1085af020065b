"""The notice sender (cron it every minute): sends what is due, retrying what SMTP refused.
Notices also go out right after their event commits; this job catches what did not."""

from django.core.management.base import BaseCommand

from camcare.notices.outbox import send_all_due


class Command(BaseCommand):
    help = "Send the e-mail notices that are due (POLICY.md section 15)."

    def handle(self, *args, **options):
        self.stdout.write(f"sent {send_all_due()} notice(s)")  # all that is due, not one page
