#!/bin/sh
# Shared image setup: the ops account, sshd config, entrypoint and probe. Run once per role image.
set -eu
install -m 0755 /tmp/common/ihh-init /usr/local/sbin/ihh-init
install -m 0755 /tmp/common/ihh-probe /usr/local/bin/ihh-probe
install -m 0644 /tmp/common/sshd_config /etc/ssh/sshd_config
install -m 0644 /tmp/common/supervisord.conf /etc/supervisor/supervisord.conf
install -m 0644 /tmp/common/rsyslog.conf /etc/rsyslog.conf
rm -f /etc/rsyslog.d/*.conf
mkdir -p /var/spool/rsyslog
useradd --create-home --shell /bin/bash ihh-ops
# No password at all ('*'), yet not locked ('!'): sshd without PAM refuses locked accounts even for keys.
usermod -p '*' ihh-ops
# sudo for ihh-ops: the stack installs /etc/sudoers.d/ihh-ops (the drill wrapper only, infra/drill_access.py).
mkdir -p /etc/ssh/authorized_keys /etc/ihh/prestart.d /var/log/supervisor
rm -f /etc/ssh/ssh_host_*
rm -rf /tmp/common
