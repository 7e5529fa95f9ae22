"""The SQLite schema, in one place: numbered migrations, applied in order, each exactly once.

Append a new tuple to add a migration; never edit one that has shipped. Each migration runs in
one ``BEGIN IMMEDIATE`` transaction together with its ``schema_version`` row, so two processes
migrating at once (``smsgw db migrate`` beside a running gateway) cannot apply one twice.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import aiosqlite

from smsgw.errors import ConfigError

# Times are ISO 8601 text in UTC (see delivery.timestamp): they sort as they compare.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: messages and their delivery tracking, inbound texts, API tokens
        """CREATE TABLE messages (
            id TEXT PRIMARY KEY,
            recipient TEXT NOT NULL,
            sender TEXT NOT NULL,
            text TEXT NOT NULL,
            state TEXT NOT NULL,
            parts INTEGER NOT NULL,
            encoding TEXT NOT NULL,
            channel TEXT,
            error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        )""",
        "CREATE INDEX messages_queued ON messages (created_at) WHERE state = 'queued'",
        # one row per segment the carrier accepted; receipts find it by (carrier, carrier_id)
        """CREATE TABLE message_parts (
            message_id TEXT NOT NULL,
            part INTEGER NOT NULL,
            parts INTEGER NOT NULL,
            carrier TEXT NOT NULL,
            carrier_id TEXT NOT NULL,
            channel TEXT NOT NULL,
            state TEXT NOT NULL,
            error TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (message_id, part)
        ) WITHOUT ROWID""",
        "CREATE UNIQUE INDEX message_parts_carrier_id ON message_parts (carrier, carrier_id)",
        """CREATE TABLE message_events (
            id INTEGER PRIMARY KEY,
            message_id TEXT NOT NULL,
            at TEXT NOT NULL,
            state TEXT NOT NULL,
            detail TEXT
        )""",
        "CREATE INDEX message_events_message ON message_events (message_id, id)",
        # receipts that came before their submit response; matched when the part is recorded
        """CREATE TABLE unmatched_receipts (
            id INTEGER PRIMARY KEY,
            carrier TEXT NOT NULL,
            carrier_id TEXT NOT NULL,
            state TEXT NOT NULL,
            error TEXT,
            received_at TEXT NOT NULL
        )""",
        "CREATE INDEX unmatched_receipts_key ON unmatched_receipts (carrier, carrier_id)",
        "CREATE INDEX unmatched_receipts_age ON unmatched_receipts (received_at)",
        """CREATE TABLE inbound (
            id TEXT PRIMARY KEY,
            sender TEXT NOT NULL,
            recipient TEXT NOT NULL,
            text TEXT NOT NULL,
            channel TEXT NOT NULL,
            carrier_ids TEXT NOT NULL,
            received_at TEXT NOT NULL
        )""",
        """CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL,
            ministry TEXT,
            created_at TEXT NOT NULL,
            expires_at TEXT,
            revoked_at TEXT
        )""",
    ),
    (  # 2: the service catalogue, subscribers, their subscriptions and consent history
        # names, descriptions, welcome: JSON objects, language → text
        """CREATE TABLE services (
            keyword TEXT PRIMARY KEY,
            ministry TEXT NOT NULL,
            names TEXT NOT NULL,
            descriptions TEXT NOT NULL,
            welcome TEXT NOT NULL,
            default_language TEXT NOT NULL,
            requires_approval INTEGER NOT NULL,
            active INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        # every word that names a service, its keyword (position 0) and its aliases: the primary
        # key makes a word unique across keywords and aliases of all services
        """CREATE TABLE service_words (
            word TEXT PRIMARY KEY,
            keyword TEXT NOT NULL REFERENCES services (keyword),
            position INTEGER NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX service_words_keyword ON service_words (keyword, position)",
        """CREATE TABLE subscribers (
            msisdn TEXT PRIMARY KEY,
            language TEXT,
            opted_out_at TEXT,
            created_at TEXT NOT NULL
        ) WITHOUT ROWID""",
        # history: leaving sets left_at, rejoining inserts a new row; left_by_stop = 1 for the
        # rows a global STOP left (its left_at is then the subscriber's opted_out_at)
        """CREATE TABLE subscriptions (
            id INTEGER PRIMARY KEY,
            msisdn TEXT NOT NULL,
            service TEXT NOT NULL REFERENCES services (keyword),
            subscribed_at TEXT NOT NULL,
            source TEXT NOT NULL,
            consent TEXT NOT NULL,
            left_at TEXT,
            left_by_stop INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE UNIQUE INDEX subscriptions_active ON subscriptions (msisdn, service)
            WHERE left_at IS NULL""",
        """CREATE INDEX subscriptions_audience ON subscriptions (service, msisdn)
            WHERE left_at IS NULL""",
        # what unstop rejoins: the rows a number's last STOP left
        """CREATE INDEX subscriptions_stopped ON subscriptions (msisdn, left_at)
            WHERE left_by_stop = 1""",
        """CREATE TABLE consent_events (
            id INTEGER PRIMARY KEY,
            msisdn TEXT NOT NULL,
            action TEXT NOT NULL,
            service TEXT,
            at TEXT NOT NULL,
            source TEXT NOT NULL,
            consent TEXT NOT NULL,
            detail TEXT
        )""",
        "CREATE INDEX consent_events_msisdn ON consent_events (msisdn, id)",
        # the consent history is evidence: append-only, enforced by the database
        """CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
            BEGIN SELECT RAISE(ABORT, 'consent_events is append-only'); END""",
        """CREATE TRIGGER consent_events_no_delete BEFORE DELETE ON consent_events
            BEGIN SELECT RAISE(ABORT, 'consent_events is append-only'); END""",
    ),
    (  # 3: inbound texts are a persisted work queue: handled once, in arrival order
        "ALTER TABLE inbound ADD COLUMN handled_at TEXT",
        "ALTER TABLE inbound ADD COLUMN outcome TEXT",
        "CREATE INDEX inbound_unhandled ON inbound (received_at) WHERE handled_at IS NULL",
    ),
    (  # 4: broadcasts and their outbox (one row per recipient, taken as a snapshot at send time)
        # texts: JSON object, language → text; segments, encodings: the same keys
        """CREATE TABLE broadcasts (
            id INTEGER PRIMARY KEY,
            service TEXT NOT NULL REFERENCES services (keyword),
            ministry TEXT NOT NULL,
            texts TEXT NOT NULL,
            segments TEXT NOT NULL,
            encodings TEXT NOT NULL,
            default_language TEXT NOT NULL,
            priority INTEGER NOT NULL,
            state TEXT NOT NULL,
            send_at TEXT,
            expires_at TEXT NOT NULL,
            audience INTEGER,
            fanout_cursor TEXT,
            cost_estimate REAL NOT NULL,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            approved_by TEXT,
            approved_at TEXT,
            cancelled_by TEXT,
            cancelled_at TEXT,
            started_at TEXT,
            finished_at TEXT,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX broadcasts_open ON broadcasts (state) WHERE state IN ('scheduled', 'queued',"
        " 'sending')",
        # priority: 0 emergency, 1 normal (a smaller number goes first). not_before: set while a
        # temporary failure waits for its retry. A recipient's message id on the channels (and in
        # message_parts) is 'o' followed by the row id (API messages have uuid hex ids).
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            broadcast INTEGER NOT NULL,
            recipient TEXT NOT NULL,
            language TEXT NOT NULL,
            carrier TEXT,
            priority INTEGER NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            not_before TEXT,
            channel TEXT,
            error TEXT,
            submitted_at TEXT,
            done_at TEXT,
            updated_at TEXT NOT NULL
        )""",
        """CREATE INDEX outbox_ready ON outbox (carrier, priority, id)
            WHERE state = 'queued' AND not_before IS NULL""",
        """CREATE INDEX outbox_retry ON outbox (carrier, priority, not_before)
            WHERE state = 'queued' AND not_before IS NOT NULL""",
        "CREATE INDEX outbox_broadcast ON outbox (broadcast, state)",
        # when each part was accepted (updated_at moves on with its receipts)
        "ALTER TABLE message_parts ADD COLUMN submitted_at TEXT",
    ),
    (  # 5: the audit log: who did what, when (append-only, like the consent history)
        # actor: a token id ("cli" for the command line); detail: JSON
        """CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            role TEXT,
            ministry TEXT,
            action TEXT NOT NULL,
            target TEXT,
            detail TEXT
        )""",
        "CREATE INDEX audit_log_action ON audit_log (action, id)",
        """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
        """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
    ),
    (  # 6: what the KPIs count (sqlite/kpis.py), each read from an index alone
        "CREATE INDEX consent_events_action_at ON consent_events (action, at)",
        """CREATE INDEX subscribers_opted_out ON subscribers (opted_out_at)
            WHERE opted_out_at IS NOT NULL""",
        # a broadcast's messages by state and language (their segments differ) from the index
        # alone; widened rather than joined by a second index, which every receipt would update
        "DROP INDEX outbox_broadcast",
        "CREATE INDEX outbox_broadcast ON outbox (broadcast, state, language)",
    ),
    (  # 7: why a broadcast was cancelled when nobody asked (its service was deactivated)
        "ALTER TABLE broadcasts ADD COLUMN cancel_reason TEXT",
    ),
    (  # 8: the person (or named system) a token belongs to: four-eyes compares persons
        "ALTER TABLE api_tokens ADD COLUMN person TEXT",
    ),
    (  # 9: who sent a single message (the token of POST /api/v1/messages; NULL: a reply)
        "ALTER TABLE messages ADD COLUMN created_by TEXT",
        """CREATE INDEX messages_created_by ON messages (created_by, created_at)
            WHERE created_by IS NOT NULL""",
    ),
    (  # 10: who recorded a consent event for the citizen (the token of an officer or an
        # import); NULL: the citizen, by SMS
        "ALTER TABLE consent_events ADD COLUMN actor TEXT",
    ),
    (  # 11: whether a citizen an officer signs up gets a confirmation SMS (on by default)
        "ALTER TABLE services ADD COLUMN confirm_sign_ups INTEGER NOT NULL DEFAULT 1",
    ),
    (  # 12: an import's sign-up confirmations go to those it signed up: the subscriptions of
        # the service made at that moment (subscribed_at), not the whole audience
        "ALTER TABLE broadcasts ADD COLUMN joined_at TEXT",
    ),
    (  # 13: retention deletes the oldest single messages and handled texts first; a
        # broadcast's outbox rows go once they are summed up in outbox_summary (JSON, see
        # sqlite/summaries.py), which its figures and the KPIs then read instead
        "CREATE INDEX messages_age ON messages (created_at)",
        "CREATE INDEX inbound_handled_age ON inbound (received_at) WHERE handled_at IS NOT NULL",
        "ALTER TABLE broadcasts ADD COLUMN outbox_summary TEXT",
        # accepted messages still waiting for a final receipt, by the end of their validity
        "CREATE INDEX messages_unconfirmed ON messages (expires_at) WHERE state = 'submitted'",
        # GET /api/v1/messages?to=: a number's messages, newest first
        "CREATE INDEX messages_recipient ON messages (recipient, created_at)",
        # Idempotency-Key: a token's sends and their first answers, for 24 hours
        """CREATE TABLE idempotency (
            token TEXT NOT NULL,
            key TEXT NOT NULL,
            digest TEXT NOT NULL,
            status INTEGER,
            body TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (token, key)
        ) WITHOUT ROWID""",
        "CREATE INDEX idempotency_age ON idempotency (created_at)",
        # status callbacks: every state change of a message that names a callback_url is
        # queued in the same transaction (the trigger), then POSTed in order per message
        "ALTER TABLE messages ADD COLUMN callback_url TEXT",
        "ALTER TABLE api_tokens ADD COLUMN callback_url TEXT",  # an integrator's default
        """CREATE TABLE callbacks (
            id INTEGER PRIMARY KEY,
            message_id TEXT NOT NULL,
            url TEXT NOT NULL,
            token TEXT,
            payload TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_at TEXT NOT NULL,
            error TEXT,
            failed_at TEXT,
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX callbacks_due ON callbacks (next_at) WHERE failed_at IS NULL",
        "CREATE INDEX callbacks_message ON callbacks (message_id, id)",
        """CREATE TRIGGER messages_callback AFTER UPDATE OF state ON messages
            WHEN NEW.callback_url IS NOT NULL AND NEW.state IS NOT OLD.state
            BEGIN
                INSERT INTO callbacks (message_id, url, token, payload, next_at, created_at)
                VALUES (NEW.id, NEW.callback_url, NEW.created_by,
                        json_object('id', NEW.id, 'state', NEW.state, 'at', NEW.updated_at,
                                    'error', NEW.error, 'parts', NEW.parts),
                        NEW.updated_at, NEW.updated_at);
            END""",
    ),
    (  # 14: a message's carrier, worked out from its number when made: with several gateways
        # (PostgreSQL), it is sent by one holding a bind of that carrier
        "ALTER TABLE messages ADD COLUMN carrier TEXT",
    ),
    (  # 15: CAP alerts from the alerting authorities, one per CAP key (sender, identifier,
        # sent): a repeat is answered with the first's result
        """CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            sender TEXT NOT NULL,
            identifier TEXT NOT NULL,
            sent TEXT NOT NULL,
            status TEXT NOT NULL,
            msg_type TEXT NOT NULL,
            event TEXT NOT NULL,
            headline TEXT NOT NULL,
            action TEXT NOT NULL,
            reason TEXT,
            service TEXT,
            broadcast INTEGER,
            document TEXT NOT NULL,
            received_by TEXT NOT NULL,
            received_at TEXT NOT NULL,
            scope TEXT NOT NULL,
            UNIQUE (sender, identifier, sent)
        )""",
        "CREATE INDEX alerts_identifier ON alerts (identifier, id)",
    ),
    (  # 16: districts: a subscriber's (None: not said), and those a broadcast is limited to
        # (a JSON list; None: the whole country)
        "ALTER TABLE subscribers ADD COLUMN district TEXT",
        "ALTER TABLE broadcasts ADD COLUMN districts TEXT",
    ),
    (  # 17: the language of an alias (a language code of templates/; NULL: not known, and
        # always for a keyword, position 0): a text in one language's words is answered in it
        "ALTER TABLE service_words ADD COLUMN language TEXT",
    ),
    (  # 18: citizens' questions (tickets: one open per number and service, and their thread)
        # and polls (a broadcast's options as JSON; one answer per number, its last)
        """CREATE TABLE tickets (
            id INTEGER PRIMARY KEY,
            service TEXT NOT NULL,
            ministry TEXT NOT NULL,
            msisdn TEXT NOT NULL,
            language TEXT NOT NULL,
            channel TEXT,
            broadcast INTEGER,
            state TEXT NOT NULL,
            assigned_to TEXT,
            opened_at TEXT NOT NULL,
            due_at TEXT,
            first_answer_at TEXT,
            last_text_at TEXT NOT NULL,
            closed_at TEXT,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX tickets_ministry ON tickets (ministry, state, id)",
        "CREATE UNIQUE INDEX tickets_open ON tickets (msisdn, service) WHERE state != 'closed'",
        "CREATE INDEX tickets_opened ON tickets (opened_at)",
        # unanswered by their target: the overdue filter, and the metric on every scrape
        """CREATE INDEX tickets_waiting ON tickets (due_at)
            WHERE first_answer_at IS NULL AND state != 'closed'""",
        """CREATE TABLE ticket_entries (
            id INTEGER PRIMARY KEY,
            ticket INTEGER NOT NULL REFERENCES tickets (id),
            kind TEXT NOT NULL,
            text TEXT NOT NULL,
            actor TEXT,
            at TEXT NOT NULL,
            message_id TEXT,
            inbound_id TEXT
        )""",
        "CREATE INDEX ticket_entries_ticket ON ticket_entries (ticket, id)",
        # a text handled again (a crash before it was marked handled) is filed once
        """CREATE UNIQUE INDEX ticket_entries_inbound ON ticket_entries (inbound_id)
            WHERE inbound_id IS NOT NULL""",
        "ALTER TABLE broadcasts ADD COLUMN poll TEXT",
        """CREATE TABLE poll_answers (
            broadcast INTEGER NOT NULL,
            msisdn TEXT NOT NULL,
            option INTEGER NOT NULL,
            language TEXT NOT NULL,
            district TEXT,
            answered_at TEXT NOT NULL,
            PRIMARY KEY (broadcast, msisdn)
        ) WITHOUT ROWID""",
    ),
    (  # 19: people who log in to the console (a password, TOTP, one-time recovery codes),
        # their sessions (by the hash of the cookie's secret), and the person behind an audit
        # entry's token or session
        """CREATE TABLE people (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            name_key TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL,
            ministry TEXT,
            password_hash TEXT NOT NULL,
            created_at TEXT NOT NULL,
            totp_secret TEXT,
            totp_pending TEXT,
            totp_last_step INTEGER,
            failures INTEGER NOT NULL DEFAULT 0,
            next_try_at TEXT,
            disabled_at TEXT
        )""",
        """CREATE TABLE recovery_codes (
            person TEXT NOT NULL REFERENCES people (id),
            code_hash TEXT NOT NULL,
            PRIMARY KEY (person, code_hash)
        ) WITHOUT ROWID""",
        """CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            person TEXT NOT NULL REFERENCES people (id),
            csrf TEXT NOT NULL,
            created_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            revoked_at TEXT
        )""",
        "CREATE INDEX sessions_person ON sessions (person)",
        "ALTER TABLE audit_log ADD COLUMN person TEXT",
    ),
    (  # 20: retention of the inbox and polls: tickets no longer waiting by their last change,
        # and the poll answers that still hold a number (a purged one's is an opaque "~...")
        "CREATE INDEX tickets_quiet ON tickets (updated_at) WHERE state != 'open'",
        """CREATE INDEX poll_answers_numbered ON poll_answers (answered_at)
            WHERE substr(msisdn, 1, 1) != '~'""",
    ),
    (  # 21: a token's last use, to the minute (access/usage.py); the audit log's filters by
        # target and by actor through an index each (by a person's name: folded, scanned)
        "ALTER TABLE api_tokens ADD COLUMN last_used_at TEXT",
        "CREATE INDEX audit_log_target ON audit_log (target, id)",
        "CREATE INDEX audit_log_actor ON audit_log (actor, id)",
    ),
)

LATEST = len(MIGRATIONS)


async def migrate(conn: aiosqlite.Connection) -> int:
    """Apply the migrations not yet applied; returns the schema version. Idempotent."""
    await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    while True:
        await conn.execute("BEGIN IMMEDIATE")
        try:
            async with conn.execute("SELECT coalesce(max(version), 0) FROM schema_version") as cur:
                row = await cur.fetchone()
            version = row[0] if row else 0
            if version > LATEST:
                raise ConfigError(
                    f"the database is at schema version {version}, newer than this smsgw knows"
                    f" ({LATEST}): run the smsgw that wrote it, or restore a backup of this one"
                )
            if version == LATEST:
                await conn.execute("COMMIT")
                return version
            for statement in MIGRATIONS[version]:
                await conn.execute(statement)
            await conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version + 1,))
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise


def version_of(path: Path) -> int:
    """The schema version of the database file at ``path``, read only (0: not made yet)."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        made = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        if made is None:
            return 0
        return int(db.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0])
