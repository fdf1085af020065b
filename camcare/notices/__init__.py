"""E-mail notices (POLICY.md section 15) through an outbox: a row per event, written in the
transaction of the event (so a rolled-back event sends nothing), sent after the commit and
retried until the SMTP server takes it. Below billing, which writes it."""
