"""The dev peers as a process (what the demo runs): the real twilio client and smtplib reach them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from services.alerts.channels import EmailSender, Secrets, SmsSender
from services.alerts.incident import Notify
from services.alerts.message import Notice
from storesight.config import AlertSettings
from tests.integration.alerts.conftest import SECRET_ENV
from tests.support.servers import REPO


def test_devpeers_process_receives_sms_and_email():
    env = dict(os.environ, **SECRET_ENV)
    proc = subprocess.Popen([sys.executable, "-m", "services.alerts.devpeers"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        addresses = json.loads(proc.stdout.readline())
        host, port = addresses["smtp"].split(":")
        settings = AlertSettings(twilio_base_url=addresses["twilio_base_url"], smtp_host=host, smtp_port=int(port),
                                 smtp_ca_file=addresses["smtp_ca_file"])
        secrets = Secrets.from_env(SECRET_ENV)
        now = time.time()
        notice = Notice(Notify.firing, "inc-1", "s1", "Shop", "UTC", "r1", "occupancy", "table", 3, 2, ">=",
                        "info", now - 30, now, "http://dash", "http://ack")
        sid = SmsSender(settings, secrets).send("+15550100123", notice)
        EmailSender(settings, secrets).send("manager@shop.example", notice)
        sms, mail = json.loads(proc.stdout.readline()), json.loads(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(10)
    assert sid.startswith("SM")
    assert sms["peer"] == "twilio" and sms["to"] == "+155***0123" and "occupancy 3" in sms["body"]
    assert mail["peer"] == "smtp" and mail["to"] == ["m***@shop.example"]
    assert proc.returncode == 0
