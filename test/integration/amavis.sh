# The course's after-queue filter stack on loopback: clamd (clamav-daemon) with a test-only
# signature database and amavisd-new with SpamAssassin's packaged rules. Source it after lib.sh:
#   source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
#   source "$IT_DIR/amavis.sh"
#   need_amavis_stack
#   pick_ports REINJECT_PORT
#   start_amavis_stack "$REINJECT_PORT"   # amavis listens on $AMAVIS_PORT, hands mail back
#   ...                                   #   to 127.0.0.1:$REINJECT_PORT (Petrel's 10025)
#   stop_amavis_stack
# start_reinject_sink PORT DIR is an aiosmtpd sink for tests that run amavis without Petrel.
#
# It owns $AMAVIS_DIR ($T/amavis: the configs, clamd's database and socket, amavis's home,
# temp, quarantine and logs) and the two processes (foreground, their PIDs ours, killed by
# lib.sh on exit). Nothing outside $T is written or read besides the packages' own files: no
# freshclam, no sa-update, no DNS (SpamAssassin local tests only), no syslog, no system
# amavis/clamd configuration (the Debian conf.d files are not read).
#
# The amavis settings are those of the course handout (000_*.txt: `apt-get install amavis`,
# then only 15-content_filter_mode's virus and spam checks switched on), i.e. Debian's
# 20-debian_defaults: $final_virus_destiny = D_DISCARD (the client gets "250 2.7.0 Ok,
# discarded ... INFECTED", the message goes to the quarantine, postmaster gets a notice),
# $final_spam_destiny = D_PASS (spam is delivered with X-Spam-Flag: YES, which the course's
# global Sieve script files into "spam"), tag/tag2/kill levels 2.0/6.31/6.31 (GTUBE scores
# 1000), quarantine in one level of subdirectories. AMAVIS_EXTRA_CONF (Perl lines, appended)
# changes any of it, e.g. '$final_virus_destiny = D_REJECT;'.
#
# Privileges: amavisd refuses to run as root and insists that its config file belong to root.
# As root the stack runs clamd as root (it must read amavis's temporary files) and amavis as
# the Debian package's `amavis` user, so $T is made traversable (0711) and $AMAVIS_DIR/home
# belongs to that user. As another user both run as that user, and amavisd is started
# through a two-line Perl wrapper that switches off its owner check of the config file
# (%i_know_what_i_am_doing{no_conf_file_writable_check}, amavis's own switch for this).

AMAVIS_DIR="$T/amavis"
AMAVIS_PORT=""
AMAVIS_LOG="$AMAVIS_DIR/home/amavis.log"    # amavis's $LOGFILE
AMAVIS_OUT="$AMAVIS_DIR/amavisd.out"        # its stdout/stderr (start-up errors)
AMAVIS_QUARANTINE="$AMAVIS_DIR/home/quarantine"
CLAMD_CONF="$AMAVIS_DIR/clamd.conf"
CLAMD_SOCKET="$AMAVIS_DIR/clamd.sock"
CLAMD_LOG="$AMAVIS_DIR/clamd.log"
CLAMD_PID=""
AMAVIS_PID=""
AMAVIS_START_SECONDS=""                     # wall time of the last start_amavis_stack
AMAVIS_DOMAIN="${AMAVIS_DOMAIN:-example.test}"
# The test strings (TEST-PEERS.md G). EICAR is 68 bytes; both are standard, harmless.
EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
GTUBE='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'

# need_amavis_stack: skip unless amavisd-new, clamd, clamdscan and SpamAssassin's rules are
# installed (scripts/install-deps.sh heavy).
need_amavis_stack() {
  local p
  for p in /usr/sbin/amavisd /usr/sbin/clamd /usr/bin/clamdscan; do
    [[ -x "$p" ]] || skip "missing $p (scripts/install-deps.sh heavy: amavisd-new, clamav-daemon, clamdscan)"
  done
  [[ -f /usr/share/spamassassin/20_body_tests.cf ]] ||
    skip "missing SpamAssassin's packaged rules (/usr/share/spamassassin, package spamassassin)"
  "$PYTHON" -c 'import aiosmtpd' 2>/dev/null || skip "missing Python module aiosmtpd (python3-aiosmtpd)"
  if [[ "$(id -u)" -eq 0 ]]; then
    id amavis >/dev/null 2>&1 || skip "no 'amavis' user to run amavisd as (package amavisd-new)"
  fi
}

# _clamd_setup: clamd.conf and the test-only database: one .ndb body signature, the EICAR
# string's hex anywhere in any file type (target 0), so it matches the decoded attachment and
# a text part with the string alike. clamd reports it as Eicar-Test-Signature.UNOFFICIAL.
_clamd_setup() {
  mkdir -p "$AMAVIS_DIR/clamdb" "$AMAVIS_DIR/clamtmp"
  local hex
  hex="$(printf '%s' "$EICAR" | od -An -tx1 -v | tr -d ' \n')"
  printf 'Eicar-Test-Signature:0:*:%s\n' "$hex" >"$AMAVIS_DIR/clamdb/test.ndb"
  cat >"$CLAMD_CONF" <<EOF
# Written by test/integration/amavis.sh: a private clamd for one test.
Foreground yes
LocalSocket $CLAMD_SOCKET
LocalSocketMode 666
FixStaleSocket yes
DatabaseDirectory $AMAVIS_DIR/clamdb
TemporaryDirectory $AMAVIS_DIR/clamtmp
LogFile $CLAMD_LOG
LogTime yes
PidFile $AMAVIS_DIR/clamd.pid
SelfCheck 0
MaxThreads 4
EOF
}

# clamd_answers: true when clamd answers PING on its socket.
clamd_answers() {
  "$PYTHON" - "$CLAMD_SOCKET" 2>/dev/null <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sys.argv[1])
s.sendall(b"zPING\0")
sys.exit(0 if s.recv(64).startswith(b"PONG") else 1)
EOF
}

# _amavis_setup REINJECT_PORT: amavisd.conf, SpamAssassin's site config, amavis's home.
_amavis_setup() {
  local reinject="$1" user group
  mkdir -p "$AMAVIS_DIR/home/tmp" "$AMAVIS_DIR/home/var" "$AMAVIS_DIR/home/db" \
    "$AMAVIS_QUARANTINE" "$AMAVIS_DIR/sa"
  # SpamAssassin reads its plugin list (*.pre) from the site directory; take Debian's, then
  # switch off everything that would go to the network or keep state.
  cp /etc/spamassassin/*.pre "$AMAVIS_DIR/sa/" 2>/dev/null || true
  cat >"$AMAVIS_DIR/sa/local.cf" <<'EOF'
# Written by test/integration/amavis.sh: SpamAssassin local tests only.
dns_available no
skip_rbl_checks 1
use_bayes 0
bayes_auto_learn 0
EOF
  if [[ "$(id -u)" -eq 0 ]]; then
    user=amavis
    group="$(id -gn amavis)"
    chmod 0711 "$T"
    chown -R "$user:$group" "$AMAVIS_DIR/home"
  else
    user="$(id -un)"
    group="$(id -gn)"
  fi
  cat >"$AMAVIS_DIR/amavisd.conf" <<EOF
# Written by test/integration/amavis.sh: the course's amavis (Debian defaults) on loopback.
use strict;
\$MYHOME = '$AMAVIS_DIR/home';
\$TEMPBASE = "\$MYHOME/tmp";
\$db_home = "\$MYHOME/db";
\$helpers_home = "\$MYHOME/var";
\$pid_file = "\$MYHOME/amavisd.pid";
\$lock_file = "\$MYHOME/amavisd.lock";
\$daemon_user = '$user';
\$daemon_group = '$group';
\$max_servers = 2;
\$child_timeout = 300;
\$enable_db = 0;
\$enable_global_cache = 0;
# 25-amavis_helpers: the AM.PDP socket of amavisd-release. It also loads Amavis::IO::Zlib,
# which the gzipped spam quarantine needs (without it amavis tempfails every spam message).
\$unix_socketname = "\$MYHOME/amavisd.sock";
\$interface_policy{'SOCK'} = 'AM.PDP-SOCK';
\$policy_bank{'AM.PDP-SOCK'} = { protocol => 'AM.PDP', auth_required_release => 0 };
\$DO_SYSLOG = 0;
\$LOGFILE = '$AMAVIS_LOG';
\$log_level = 2;
\$myhostname = 'amavis.$AMAVIS_DOMAIN';
\$mydomain = '$AMAVIS_DOMAIN';
@local_domains_maps = ( [".\$mydomain"] );
@mynetworks = qw(127.0.0.0/8 [::1]);
\$inet_socket_bind = '127.0.0.1';
\$inet_socket_port = $AMAVIS_PORT;
@inet_acl = qw(127.0.0.1 [::1]);
\$forward_method = 'smtp:[127.0.0.1]:$reinject';
\$notify_method = 'smtp:[127.0.0.1]:$reinject';

# 15-content_filter_mode as the course leaves it: virus and spam checks on.
@bypass_virus_checks_maps = ();
@bypass_spam_checks_maps = ();
@av_scanners = (
  ['ClamAV-clamd', \&ask_daemon, ["CONTSCAN {}\n", '$CLAMD_SOCKET'],
   qr/\bOK\$/m, qr/\bFOUND\$/m, qr/^.*?: (?!Infected Archive)(.*) FOUND\$/m ],
);
@av_scanners_backup = ();

# 20-debian_defaults, which the course runs unchanged.
\$QUARANTINEDIR = '$AMAVIS_QUARANTINE';
\$quarantine_subdir_levels = 1;
\$sa_spam_subject_tag = '***SPAM*** ';
\$sa_tag_level_deflt  = 2.0;
\$sa_tag2_level_deflt = 6.31;
\$sa_kill_level_deflt = 6.31;
\$sa_dsn_cutoff_level = 10;
\$sa_mail_body_size_limit = 200*1024;
\$final_virus_destiny      = D_DISCARD;
\$final_banned_destiny     = D_DISCARD;
\$final_spam_destiny       = D_PASS;
\$final_bad_header_destiny = D_PASS;
\$enable_dkim_verification = 0;
\$virus_admin = "postmaster\\@\$mydomain";
\$X_HEADER_LINE = "Debian \$myproduct_name at \$mydomain";
@viruses_that_fake_sender_maps = (new_RE([qr'\bEICAR\b'i => 0], [qr/.*/ => 1]));

# SpamAssassin with its packaged rules only (no sa-update), no network tests.
\$sa_local_tests_only = 1;
\$sa_configpath = '/usr/share/spamassassin';
\$sa_siteconfigpath = '$AMAVIS_DIR/sa';
\$sa_userprefs_file = undef;
${AMAVIS_EXTRA_CONF:-}
1;
EOF
  chmod 0644 "$AMAVIS_DIR/amavisd.conf"
  if [[ "$(id -u)" -ne 0 ]]; then
    cat >"$AMAVIS_DIR/amavisd-wrapper.pl" <<'EOF'
#!/usr/bin/perl -T
# amavisd for an unprivileged test user: the config file belongs to that user, not root.
use Exporter ();
use Amavis::Conf ();
BEGIN { $Amavis::Conf::i_know_what_i_am_doing{no_conf_file_writable_check} = 1 }
do '/usr/sbin/amavisd' or die($@ || "cannot run /usr/sbin/amavisd: $!");
EOF
    chmod 0755 "$AMAVIS_DIR/amavisd-wrapper.pl"  # amavisd re-executes itself ($0)
  fi
}

# amavis_answers: true when amavis greets on its port with 220.
amavis_answers() {
  "$PYTHON" - "$AMAVIS_PORT" 2>/dev/null <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.settimeout(5)
ok = s.recv(512).startswith(b"220")
s.sendall(b"QUIT\r\n")
s.close()
sys.exit(0 if ok else 1)
EOF
}

# start_amavis_stack REINJECT_PORT [TIMEOUT]: starts clamd and amavisd (amavis on a free port,
# $AMAVIS_PORT, handing mail back to 127.0.0.1:REINJECT_PORT), checks that clamdscan finds
# EICAR, and waits until amavis greets. Sets AMAVIS_START_SECONDS.
start_amavis_stack() {
  local reinject="$1" timeout="${2:-120}" t0 deadline
  [[ -z "$AMAVIS_PID$CLAMD_PID" ]] || fail "start_amavis_stack: the stack is already running"
  t0="$EPOCHREALTIME"
  mkdir -p "$AMAVIS_DIR"
  [[ -n "$AMAVIS_PORT" ]] || pick_ports AMAVIS_PORT
  export AMAVIS_PORT AMAVIS_DIR AMAVIS_LOG AMAVIS_QUARANTINE CLAMD_SOCKET EICAR GTUBE
  _clamd_setup
  _amavis_setup "$reinject"

  /usr/sbin/clamd -c "$CLAMD_CONF" >>"$AMAVIS_DIR/clamd.out" 2>&1 &
  CLAMD_PID=$!
  EXTRA_PIDS+=("$CLAMD_PID")
  disown "$CLAMD_PID"  # killed by lib.sh on exit; no "Killed" notice from bash
  if [[ "$(id -u)" -eq 0 ]]; then
    /usr/sbin/amavisd -c "$AMAVIS_DIR/amavisd.conf" foreground >>"$AMAVIS_OUT" 2>&1 &
  else
    "$AMAVIS_DIR/amavisd-wrapper.pl" -c "$AMAVIS_DIR/amavisd.conf" foreground \
      >>"$AMAVIS_OUT" 2>&1 &
  fi
  AMAVIS_PID=$!
  EXTRA_PIDS+=("$AMAVIS_PID")
  disown "$AMAVIS_PID"

  deadline=$((SECONDS + timeout))
  until clamd_answers; do
    kill -0 "$CLAMD_PID" 2>/dev/null ||
      fail "clamd exited during start: $(tail -n 20 "$AMAVIS_DIR/clamd.out" "$CLAMD_LOG" 2>&1)"
    ((SECONDS < deadline)) || fail "timed out after ${timeout}s waiting for clamd on $CLAMD_SOCKET"
    sleep 0.1
  done
  # The database does what the tests rely on: clamdscan (through this clamd) finds EICAR.
  printf '%s' "$EICAR" >"$AMAVIS_DIR/eicar.com"
  chmod 0644 "$AMAVIS_DIR/eicar.com"
  local scan
  scan="$(/usr/bin/clamdscan --config-file="$CLAMD_CONF" --no-summary "$AMAVIS_DIR/eicar.com" 2>&1)" &&
    fail "clamdscan found nothing in the EICAR file: $scan"
  [[ "$scan" == *"Eicar-Test-Signature"*"FOUND"* ]] || fail "clamdscan on the EICAR file: $scan"

  until amavis_answers; do
    kill -0 "$AMAVIS_PID" 2>/dev/null ||
      fail "amavisd exited during start: $(tail -n 30 "$AMAVIS_OUT" "$AMAVIS_LOG" 2>&1)"
    ((SECONDS < deadline)) ||
      fail "timed out after ${timeout}s waiting for amavis on port $AMAVIS_PORT: $(tail -n 20 "$AMAVIS_LOG" 2>&1)"
    sleep 0.2
  done
  AMAVIS_START_SECONDS="$("$PYTHON" -c "print('%.1f' % ($EPOCHREALTIME - $t0))")"
  log "amavis stack (clamd + amavisd with SpamAssassin) up in ${AMAVIS_START_SECONDS}s"
}

# _amavis_children: PIDs of the amavisd master's children (Net::Server's prefork pool).
_amavis_children() {
  [[ -n "$AMAVIS_PID" ]] && ps -o pid= --ppid "$AMAVIS_PID" 2>/dev/null | tr -d ' ' || true
}

# stop_amavis_stack: SIGTERM to amavisd and clamd, by PID, and waits until they are gone.
# amavisd's master takes its children down on SIGTERM; any child still there after it (the
# master killed by something else) gets SIGTERM by its own PID.
stop_amavis_stack() {
  local p kids
  kids="$(_amavis_children)"
  for p in "$AMAVIS_PID" "$CLAMD_PID"; do
    [[ -n "$p" ]] || continue
    kill -TERM "$p" 2>/dev/null || true
    wait_for 30 "pid $p of the amavis stack to exit after SIGTERM" not_running "$p"
  done
  for p in $kids; do
    kill -TERM "$p" 2>/dev/null || true
    wait_for 10 "amavis child $p to exit after SIGTERM" not_running "$p"
  done
  AMAVIS_PID=""
  CLAMD_PID=""
}

# On exit (pass, fail or skip) the stack is stopped before lib.sh's cleanup, which would
# SIGKILL the amavisd master only and leave its children listening, as orphans.
_amavis_exit() {
  local rc=$?
  set +e
  if [[ -n "$AMAVIS_PID$CLAMD_PID" ]]; then
    local p kids
    kids="$(_amavis_children)"
    for p in "$AMAVIS_PID" "$CLAMD_PID" $kids; do
      kill -TERM "$p" 2>/dev/null
    done
    for _ in $(seq 50); do
      local alive=""
      for p in "$AMAVIS_PID" "$CLAMD_PID" $kids; do
        kill -0 "$p" 2>/dev/null && ! not_running "$p" && alive=1
      done
      [[ -z "$alive" ]] && break
      sleep 0.1
    done
    for p in "$AMAVIS_PID" "$CLAMD_PID" $kids; do
      kill -9 "$p" 2>/dev/null
    done
    AMAVIS_PID=""
    CLAMD_PID=""
  fi
  if [[ $rc -ne 0 && $rc -ne 77 && -f "$AMAVIS_LOG" ]]; then
    printf '%s: ---- last lines of the amavis log (%s) ----\n' "$TEST_NAME" "$AMAVIS_LOG" >&2
    tail -n 30 "$AMAVIS_LOG" >&2
  fi
  (exit $rc)
  _cleanup
}
trap _amavis_exit EXIT

# amavis_log_has PATTERN: true when amavis's log has a line matching the extended regex.
amavis_log_has() { grep -Eq -- "$1" "$AMAVIS_LOG" 2>/dev/null; }

# quarantine_files: the quarantined messages, one path a line.
quarantine_files() { find "$AMAVIS_QUARANTINE" -type f 2>/dev/null | sort; }

# start_reinject_sink PORT DIR: an aiosmtpd server on 127.0.0.1:PORT that accepts everything
# and writes each message to DIR/NNN.eml, preceded by "X-Sink-Mail-From: <..>" and one
# "X-Sink-Rcpt-To: <..>" line per recipient; killed on exit.
start_reinject_sink() {
  mkdir -p "$2"
  SINK_PORT="$1" SINK_DIR="$2" py_bg - <<'EOF' >>"$2/sink.out" 2>&1
import asyncio, os, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

class Sink:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Sink.n += 1
        head = "X-Sink-Mail-From: <%s>\r\n" % envelope.mail_from
        head += "".join("X-Sink-Rcpt-To: <%s>\r\n" % r for r in envelope.rcpt_tos)
        path = os.path.join(os.environ["SINK_DIR"], "%03d.eml" % Sink.n)
        with open(path + ".tmp", "wb") as f:
            f.write(head.encode() + envelope.original_content)
        os.rename(path + ".tmp", path)
        return "250 2.0.0 Ok: queued as sink%03d" % Sink.n

c = Controller(Sink(), hostname="127.0.0.1", port=int(os.environ["SINK_PORT"]),
               server_hostname="sink.example.test", decode_data=False)
c.start()
while True:
    time.sleep(3600)
EOF
  disown "$PY_BG_PID"
  wait_for 10 "the reinjection sink on port $1" port_open "$1"
}
