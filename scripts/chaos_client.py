#!/usr/bin/env python3
"""Load generator and checker for scripts/chaos.sh (python3 standard library only).

  chaos_client.py load  --dir D --threads N --tag T
      Posts distinct payments continuously from N threads to the URL in D/url (re-read after every
      connection error, so a restarted service on another port is found). Appends every sent payment
      (first send of an id) to D/sent.jsonl and every acknowledgement (201/200) to D/acks.jsonl.
      Control files: D/day (business day of new payments), D/pause (finish in-flight requests and
      stop; D/paused is written with counters once every thread is idle), D/stop (exit).
  chaos_client.py check --dir D --round R --psql PSQL --poster-token TOK --auditor-token TOK
      While the load is paused: verifies the database against the acknowledgements, runs the SQL
      invariants and POST /v1/audit/verify, re-sends every payment sent since the previous check and
      verifies the answers; prints one JSON line; exit 1 on any violation.
  chaos_client.py summary --dir D
      Prints one summary JSON line from D/rounds.jsonl.
"""
import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.parse


def read_file(path, default=None):
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        return default


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class Http:
    """One keep-alive connection to the service whose URL is in DIR/url."""

    def __init__(self, d, timeout=10.0):
        self.d = d
        self.timeout = timeout
        self.conn = None

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = None

    def request(self, method, path, body=None, token=None):
        if self.conn is None:
            u = urllib.parse.urlparse(read_file(os.path.join(self.d, "url"), ""))
            if u.hostname != "127.0.0.1":
                raise ConnectionError("no service url")
            self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=self.timeout)
        headers = {}
        if token:
            headers["Authorization"] = "Bearer " + token
        data = b""
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        headers["Content-Length"] = str(len(data))
        try:
            self.conn.request(method, path, body=data, headers=headers)
            r = self.conn.getresponse()
            raw = r.read()
        except Exception:
            self.close()
            raise
        if r.getheader("Connection", "").lower() == "close":
            self.close()
        try:
            js = json.loads(raw) if raw else None
        except ValueError:
            js = {"unparsable": raw[:200].decode("utf-8", "replace")}
        return r.status, js


FIGURES = ("entry_id", "discount", "payer_pays", "merchant_receives")


def figures(js):
    return {k: js.get(k) for k in FIGURES}


# ---------------------------------------------------------------- load
def cmd_load(a):
    d = a.dir
    token = read_file(os.path.join(d, "poster.token"))
    lock = threading.Lock()
    sent_f = open(os.path.join(d, "sent.jsonl"), "a")
    acks_f = open(os.path.join(d, "acks.jsonl"), "a")
    state = {"pause": False, "stop": False, "day": read_file(os.path.join(d, "day"))}
    idle = [False] * a.threads
    stats = {}

    def bump(k):
        with lock:
            stats[k] = stats.get(k, 0) + 1

    def log(f, obj):
        line = json.dumps(obj, separators=(",", ":")) + "\n"
        with lock:
            f.write(line)
            f.flush()

    def worker(i):
        rnd = random.Random(hash((a.tag, i)))
        h = Http(d, timeout=a.timeout)
        seq = 0
        while not state["stop"]:
            if state["pause"]:
                idle[i] = True
                h.close()
                time.sleep(0.02)
                continue
            idle[i] = False
            seq += 1
            pid = "%s-%d-%06d" % (a.tag, i, seq)
            if rnd.random() < 0.5:  # eligible for the pilot's discount: bank app, >= 10.00, M001..M016
                merchant, channel, fen = "M%03d" % rnd.randint(1, 16), "bank_app", rnd.randint(1000, 1199)
            else:
                merchant = "M%03d" % rnd.randint(1, 24)
                channel = rnd.choice(("bank_app", "wechat", "alipay"))
                fen = rnd.randint(50, 999)
            body = {"payment_id": pid, "payer": "P%04d" % rnd.randint(1, 200), "merchant": merchant,
                    "channel": channel, "amount": "%d.%02d" % (fen // 100, fen % 100),
                    "paid_at": "%sT%02d:%02d:%02d+08:00" % (state["day"], rnd.randint(8, 21),
                                                              rnd.randint(0, 59), rnd.randint(0, 59))}
            log(sent_f, {"id": pid, "body": body})
            bump("sent")
            failures = 0
            while True:
                t_sent = time.time()
                try:
                    st, js = h.request("POST", "/v1/payments", body, token)
                except Exception as e:
                    bump("conn_error")
                    st, js = None, {"error": type(e).__name__}
                if st in (200, 201):
                    rec = {"id": pid, "code": st, "status": js.get("status")}
                    rec.update(figures(js))
                    # When this attempt was sent and answered (scripts/failover.sh: writes resumed).
                    rec.update({"t_sent": round(t_sent, 3), "t": round(time.time(), 3)})
                    log(acks_f, rec)
                    bump("ack_%d" % st)
                    break
                if st == 503:
                    bump("503_" + str(js.get("error") if isinstance(js, dict) else js))
                elif st is not None:
                    bump("other_%d_%s" % (st, js.get("error") if isinstance(js, dict) else js))
                    log(acks_f, {"id": pid, "code": st, "error": js})
                    break
                failures += 1
                # Re-send with the same id a few times, then leave it unacknowledged (the check re-sends).
                # Odd threads give up at the first failure, so some payments stay unacknowledged but may
                # well be stored (the case the check's re-send must answer 200 exists).
                if failures >= (1 if i % 2 else a.retries) or state["pause"] or state["stop"]:
                    bump("abandoned")
                    time.sleep(0.05)
                    break
                time.sleep(0.05)
        h.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(a.threads)]
    for t in threads:
        t.start()
    pause_file, paused_file = os.path.join(d, "pause"), os.path.join(d, "paused")
    while True:
        if os.path.exists(os.path.join(d, "stop")):
            state["stop"] = True
            break
        if os.path.exists(pause_file):
            state["pause"] = True
            if all(idle) and not os.path.exists(paused_file):
                with lock:
                    write_atomic(paused_file, json.dumps(stats, sort_keys=True))
        else:
            if state["pause"]:
                state["day"] = read_file(os.path.join(d, "day"))
                idle[:] = [False] * a.threads
                state["pause"] = False
                try:
                    os.remove(paused_file)
                except FileNotFoundError:
                    pass
        time.sleep(0.02)
    for t in threads:
        t.join(timeout=a.timeout + 2)
    sent_f.close()
    acks_f.close()


# ---------------------------------------------------------------- check
def fen_str(fen):
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return "%s%d.%02d" % (sign, fen // 100, fen % 100)


def parse_fen(s):
    whole, _, frac = s.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


def psql(a, sql):
    r = subprocess.run([a.psql, "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("psql failed: " + r.stderr.strip())
    return [line.split("\t") for line in r.stdout.splitlines() if line]


def stored_payments(a):
    rows = psql(a, """
      SELECT p.payment_id, p.entry_id, p.amount_fen, p.discount_fen, p.payer_share_fen,
             p.merchant_share_fen, py.code, m.code, p.channel
      FROM promo.payment p JOIN ledger.payer py ON py.id = p.payer_id
                           JOIN ledger.merchant m ON m.id = p.merchant_id
      -- Payments the harness posts itself to probe the service (failover.sh) are not the load's.
      WHERE p.payment_id NOT LIKE 'probe-%'""")
    out = {}
    for pid, entry, amount, disc, ps, ms, payer, merchant, channel in rows:
        amount, disc, ps, ms = int(amount), int(disc), int(ps), int(ms)
        out[pid] = {"figures": {"entry_id": int(entry), "discount": fen_str(disc),
                                "payer_pays": fen_str(amount - ps), "merchant_receives": fen_str(amount + ms)},
                    "content": {"payer": payer, "merchant": merchant, "channel": channel, "amount": fen_str(amount)}}
    return out


def cmd_check(a):
    d = a.dir
    t0 = time.time()
    violations = []

    def violate(kind, **kw):
        kw["kind"] = kind
        violations.append(kw)

    sent = {}
    with open(os.path.join(d, "sent.jsonl")) as f:
        for line in f:
            rec = json.loads(line)
            if rec["id"] in sent and sent[rec["id"]] != rec["body"]:
                violate("client_sent_two_bodies", id=rec["id"])
            sent[rec["id"]] = rec["body"]
    acks = {}
    all_acks = []
    load_other = []
    with open(os.path.join(d, "acks.jsonl")) as f:
        for line in f:
            rec = json.loads(line)
            if rec["code"] not in (200, 201):
                load_other.append(rec)
                continue
            fig = figures(rec)
            if rec["id"] in acks and acks[rec["id"]] != fig:
                violate("two_acks_differ", id=rec["id"], first=acks[rec["id"]], second=fig)
            acks.setdefault(rec["id"], fig)
            all_acks.append((rec["id"], fig))
    for rec in load_other:
        violate("unexpected_answer_under_load", id=rec["id"], code=rec["code"], body=rec.get("error"))

    stored = stored_payments(a)
    # 1. every acknowledged payment is stored with the acknowledged figures and the sent content
    for pid, fig in all_acks:
        s = stored.get(pid)
        if s is None:
            violate("acknowledged_not_stored", id=pid, ack=fig)
        elif s["figures"] != fig:
            violate("acknowledged_figures_differ", id=pid, ack=fig, stored=s["figures"])
    for pid, s in stored.items():
        b = sent.get(pid)
        if b is None:
            violate("stored_never_sent", id=pid)
        elif {k: b[k] for k in ("payer", "merchant", "channel")} != {k: s["content"][k] for k in ("payer", "merchant", "channel")} \
                or parse_fen(b["amount"]) != parse_fen(s["content"]["amount"]):
            violate("stored_content_differs", id=pid, sent=b, stored=s["content"])

    # 2. SQL invariants
    unbalanced = psql(a, """
      SELECT e.id FROM ledger.journal_entry e LEFT JOIN ledger.journal_line l ON l.entry_id = e.id
      GROUP BY e.id
      HAVING count(l.entry_id) < 2
          OR coalesce(sum(CASE l.side WHEN 'D' THEN l.amount_fen ELSE -l.amount_fen END), 0) <> 0
      LIMIT 20""")
    if unbalanced:
        violate("unbalanced_entries", entries=[r[0] for r in unbalanced])
    orphans = psql(a, """
      SELECT p.payment_id FROM promo.payment p LEFT JOIN ledger.journal_entry e ON e.id = p.entry_id
      WHERE e.id IS NULL OR NOT EXISTS (SELECT 1 FROM ledger.journal_line l WHERE l.entry_id = p.entry_id)
      LIMIT 20""")
    if orphans:
        violate("payment_without_entry_or_lines", ids=[r[0] for r in orphans])
    over_cap = psql(a, """
      SELECT merchant_id, business_day, count(*) FROM promo.payment WHERE deck_id IS NOT NULL
      GROUP BY merchant_id, business_day HAVING count(*) > 20""")
    if over_cap:
        violate("daily_cap_exceeded", rows=over_cap)
    dup_cards = psql(a, """
      SELECT deck_id, card_position, count(*) FROM promo.payment WHERE deck_id IS NOT NULL
      GROUP BY 1, 2 HAVING count(*) > 1""")
    if dup_cards:
        violate("card_used_twice", rows=dup_cards)

    # 3. POST /v1/audit/verify
    h = Http(d, timeout=120)
    audit_ok = None
    try:
        st, js = h.request("POST", "/v1/audit/verify", None, a.auditor_token)
        audit_ok = bool(st == 200 and isinstance(js, dict) and js.get("ok") is True)
        if not audit_ok:
            bad = js.get("checks") if isinstance(js, dict) else js
            if isinstance(bad, list):
                bad = [c for c in bad if not (isinstance(c, dict) and c.get("ok") is True)]
            violate("audit_verify_failed", status=st, checks=bad)
    except Exception as e:
        violate("audit_verify_error", error=repr(e))
    h.close()

    # 4. re-send every payment sent since the previous check
    done_path = os.path.join(d, "resent.txt")
    done = set(read_file(done_path, "").split())
    todo = [pid for pid in sent if pid not in done]
    # This round's payments (sent since the previous check): acknowledged / stored before the re-send.
    unacked_stored = [pid for pid in todo if pid in stored and pid not in acks]
    round_acked = sum(1 for pid in todo if pid in acks)
    round_stored = sum(1 for pid in todo if pid in stored)
    results = {}
    rlock = threading.Lock()

    def resend(chunk):
        hh = Http(d, timeout=30)
        for pid in chunk:
            ans = None
            for attempt in range(50):
                try:
                    st, js = hh.request("POST", "/v1/payments", sent[pid], a.poster_token)
                except Exception as e:
                    ans = (None, {"error": repr(e)})
                    time.sleep(0.1)
                    continue
                ans = (st, js)
                if st != 503:
                    break
                time.sleep(0.1)
            with rlock:
                results[pid] = ans
        hh.close()

    n = max(1, a.threads)
    ths = [threading.Thread(target=resend, args=(todo[i::n],)) for i in range(n)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    after = stored_payments(a)
    resent_posted = resent_exists = late_stored = refused = 0
    for pid in todo:
        st, js = results[pid]
        was = stored.get(pid)
        now = after.get(pid)
        if st == 422:
            refused += 1
            if now is not None:
                violate("resend_refused_but_stored", id=pid, answer=js)
            continue
        if st not in (200, 201):
            violate("resend_bad_answer", id=pid, status=st, answer=js)
            continue
        if now is None:
            violate("resend_answered_but_not_stored", id=pid, status=st, answer=js)
            continue
        if figures(js) != now["figures"]:
            violate("resend_figures_differ_from_stored", id=pid, status=st, answer=figures(js), stored=now["figures"])
        if pid in acks and figures(js) != acks[pid]:
            violate("resend_figures_differ_from_ack", id=pid, status=st, answer=figures(js), ack=acks[pid])
        if was is not None:
            if st != 200 or js.get("status") != "exists":
                violate("stored_payment_posted_again", id=pid, status=st, answer=js, stored=was["figures"])
            resent_exists += 1
        else:
            if st == 201:
                resent_posted += 1
            else:  # stored between the query and the re-send: only possible if something was still in flight
                late_stored += 1
                violate("unstored_payment_answered_exists", id=pid, status=st, answer=js)
    expected = len(sent) - refused
    if len(after) != expected:
        violate("payment_count_mismatch", stored=len(after), distinct_ids_sent=len(sent), refused=refused)
    with open(done_path, "a") as f:
        f.write("".join(pid + "\n" for pid in todo))

    load_stats = json.loads(read_file(os.path.join(d, "paused"), "{}") or "{}")
    line = {"round": a.round, "killed": a.killed, "sent": len(todo), "acknowledged": round_acked,
            "stored": round_stored, "unacknowledged_but_stored": len(unacked_stored),
            "total_sent": len(sent), "total_acknowledged": len(acks),
            "resent": len(todo), "resent_posted": resent_posted, "resent_exists": resent_exists,
            "resent_refused": refused, "stored_after_resend": len(after),
            "discounted": int(psql(a, "SELECT count(*) FROM promo.payment WHERE deck_id IS NOT NULL")[0][0]),
            "audit_ok": audit_ok, "load": load_stats, "recovery_s": a.recovery_s,
            "check_s": round(time.time() - t0, 2), "violations": len(violations), "ok": not violations}
    with open(os.path.join(d, "rounds.jsonl"), "a") as f:
        f.write(json.dumps(line, sort_keys=True) + "\n")
    if violations:
        with open(os.path.join(d, "violations.jsonl"), "a") as f:
            for v in violations:
                v["round"] = a.round
                f.write(json.dumps(v, sort_keys=True) + "\n")
        for v in violations[:10]:
            print("chaos: VIOLATION " + json.dumps(v, sort_keys=True), file=sys.stderr)
    print(json.dumps(line, sort_keys=True), flush=True)
    return 1 if violations else 0


def cmd_summary(a):
    rounds = []
    p = os.path.join(a.dir, "rounds.jsonl")
    if os.path.exists(p):
        with open(p) as f:
            rounds = [json.loads(l) for l in f if l.strip()]
    last = rounds[-1] if rounds else {}
    out = {"summary": True, "rounds_planned": a.rounds, "rounds_checked": len(rounds),
           "sent": last.get("total_sent", 0), "acknowledged": last.get("total_acknowledged", 0),
           "stored": last.get("stored_after_resend", 0),
           "unacknowledged_but_stored": sum(r["unacknowledged_but_stored"] for r in rounds)
           if rounds else 0,
           "resent_posted": sum(r["resent_posted"] for r in rounds),
           "resent_refused": sum(r["resent_refused"] for r in rounds),
           "discounted": last.get("discounted", 0),
           "service_kills": sum(1 for r in rounds if r["killed"] == "service"),
           "postgres_kills": sum(1 for r in rounds if r["killed"] == "postgres"),
           "max_recovery_s": max([r["recovery_s"] for r in rounds] or [0]),
           "violations": sum(r["violations"] for r in rounds),
           "error": a.error or None, "wall_s": a.wall_s,
           "ok": bool(rounds) and len(rounds) == a.rounds and all(r["ok"] for r in rounds) and not a.error}
    print(json.dumps(out, sort_keys=True), flush=True)
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    l = sub.add_parser("load")
    l.add_argument("--dir", required=True)
    l.add_argument("--threads", type=int, default=8)
    l.add_argument("--tag", required=True)
    l.add_argument("--retries", type=int, default=5)
    l.add_argument("--timeout", type=float, default=10.0)
    c = sub.add_parser("check")
    c.add_argument("--dir", required=True)
    c.add_argument("--round", type=int, required=True)
    c.add_argument("--killed", default="")
    c.add_argument("--recovery-s", type=float, default=0.0)
    c.add_argument("--psql", required=True)
    c.add_argument("--poster-token", required=True)
    c.add_argument("--auditor-token", required=True)
    c.add_argument("--threads", type=int, default=8)
    s = sub.add_parser("summary")
    s.add_argument("--dir", required=True)
    s.add_argument("--rounds", type=int, required=True)
    s.add_argument("--error", default="")
    s.add_argument("--wall-s", type=float, default=0.0)
    a = p.parse_args()
    return {"load": cmd_load, "check": cmd_check, "summary": cmd_summary}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
