# The audit log and error reports moved here from `support` (their tables stay as they are).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("support", "0001_initial"),
    ]

    state_operations = [
        migrations.CreateModel(
            name="ErrorReport",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("reference", models.CharField(max_length=16, unique=True)),
                ("at", models.DateTimeField()),
                ("status", models.PositiveSmallIntegerField()),
                ("code", models.CharField(max_length=64)),
                ("message", models.CharField(max_length=500)),
                ("path", models.CharField(max_length=500)),
                ("detail", models.TextField(blank=True)),
                ("account", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="error_reports", to=settings.AUTH_USER_MODEL)),
            ],
            options={"db_table": "support_errorreport"},
        ),
        migrations.CreateModel(
            name="AuditEvent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("at", models.DateTimeField()),
                ("action", models.CharField(max_length=64)),
                ("detail", models.JSONField(default=dict)),
                ("account", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="audit_events", to=settings.AUTH_USER_MODEL)),
                ("actor", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "db_table": "support_auditevent",
                "ordering": ["-at", "-id"],
                "indexes": [models.Index(fields=["account", "-at"], name="support_aud_account_ee54c5_idx")],
            },
        ),
    ]

    operations = [migrations.SeparateDatabaseAndState(state_operations=state_operations)]
