from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower

from camcare import ids
from camcare.accounts import time_zones


class AccountManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username):
        # Login e-mails compare case-insensitively (POLICY.md section 7).
        return self.get(email__iexact=username)

    def create_user(self, email, password=None, **extra):
        account = self.model(email=self.normalize_email(email).strip(), **extra)
        account.set_password(password)
        account.save(using=self._db)
        return account

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class Account(AbstractBaseUser, PermissionsMixin):
    """An owner's account; staff are accounts with is_staff. The id is opaque and never
    changes; the login e-mail is what people use to name it."""

    id = models.CharField(primary_key=True, max_length=24, default=ids.account_id, editable=False)
    email = models.EmailField(max_length=254, unique=True)  # also unique case-insensitively (Meta)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(auto_now_add=True)
    # The account's test clock (API.md): None follows real time; set, time stands still here.
    test_clock_at = models.DateTimeField(null=True, blank=True)
    # The IANA zone pages and e-mails show instants in (POLICY.md section 16); instants
    # themselves stay UTC. Set through services.set_time_zone, which audits the change.
    time_zone = models.CharField(max_length=time_zones.MAX_LENGTH, default=time_zones.DEFAULT,
                                 validators=[time_zones.validate_time_zone])

    objects = AccountManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="account_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email


class ApiToken(models.Model):
    """A bearer token for the API. Only the SHA-256 of the token is stored."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)


class LoginFailure(models.Model):
    """One failed sign-in, kept for throttling (10 per 15 minutes per e-mail or per IP)."""

    email = models.CharField(max_length=254, db_index=True)  # lower-cased
    ip = models.GenericIPAddressField(null=True, db_index=True)
    at = models.DateTimeField(db_index=True)
