"""The alerts service: rules over zone statistics and camera health -> incidents -> SMS, e-mail, webhook.

Pure core: ``observe`` (rule values), ``incident`` (state machine), ``schedule`` (quiet/business
hours), ``policy`` (retry, rate limit), ``message`` (texts, masking, signed ack links).
Shell: ``channels`` (Twilio, SMTP, webhook), ``ledger`` (Redis), ``notifier``, ``service``.
"""
