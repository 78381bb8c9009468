-- The reference service's schema. Applied once at bootstrap by the database tier (post-bootstrap),
-- as the owner role ihh_owner: the service's role ihh_app owns nothing, so it may insert into the
-- audit trail and read it, but not update, delete or truncate it. Each statement is idempotent.
CREATE TABLE IF NOT EXISTS patients (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    id_number   text NOT NULL UNIQUE,
    mobile      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS doctors (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    license_no  text NOT NULL UNIQUE,
    department  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS bookings (
    id            bigserial PRIMARY KEY,
    patient_id    bigint NOT NULL REFERENCES patients,
    doctor_id     bigint NOT NULL REFERENCES doctors,
    slot          timestamptz NOT NULL,
    status        text NOT NULL CHECK (status IN ('booked', 'confirmed', 'completed')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    confirmed_at  timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS bookings_one_patient_per_slot ON bookings (doctor_id, slot);
CREATE TABLE IF NOT EXISTS consultations (
    id          bigserial PRIMARY KEY,
    booking_id  bigint NOT NULL UNIQUE REFERENCES bookings,
    note        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS prescriptions (
    id               bigserial PRIMARY KEY,
    consultation_id  bigint NOT NULL REFERENCES consultations,
    items            jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS follow_ups (
    id               bigserial PRIMARY KEY,
    consultation_id  bigint NOT NULL REFERENCES consultations,
    due_date         date NOT NULL,
    reason           text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
-- TM-5.4: who did what, when, to which record; one booking's rows trace a consultation end to end.
CREATE TABLE IF NOT EXISTS audit_trail (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor        text NOT NULL,
    action       text NOT NULL,
    record_type  text NOT NULL,
    record_id    bigint NOT NULL,
    patient_id   bigint,
    booking_id   bigint,
    node         text NOT NULL,
    request_key  text NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_trail_booking ON audit_trail (booking_id);
CREATE INDEX IF NOT EXISTS audit_trail_patient ON audit_trail (patient_id);
-- EH-1.1.2: the trail is append-only, even for its owner (the service's role has no UPDATE or DELETE
-- grant at all, and TRUNCATE needs ownership, which it lacks).
CREATE OR REPLACE FUNCTION audit_trail_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_trail is append-only: % refused', TG_OP;
END $$;
CREATE OR REPLACE TRIGGER audit_trail_append_only BEFORE UPDATE OR DELETE ON audit_trail
    FOR EACH ROW EXECUTE FUNCTION audit_trail_append_only();
-- A write's key, stored in the write's own transaction: a retry returns the first answer.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key           text PRIMARY KEY,
    request_hash  text NOT NULL,
    status        integer NOT NULL,
    response      jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- GD-3.2.1: every record the supervision platform must receive, written in the same transaction as the event
-- itself (a transactional outbox), then uploaded by the forwarder in id order: nothing committed is missed,
-- nothing rolled back is sent. record_id makes a resend idempotent at the platform.
CREATE TABLE IF NOT EXISTS supervision_outbox (
    id            bigserial PRIMARY KEY,
    record_id     uuid NOT NULL UNIQUE,
    kind          text NOT NULL,
    patient_id    bigint,
    payload       jsonb NOT NULL,
    committed_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    sent_at       timestamptz,
    receipt       text,
    attempts      integer NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS supervision_outbox_pending ON supervision_outbox (id) WHERE sent_at IS NULL;
-- What the platform rejected, with its reason: kept for an operator to correct and resend, never retried blind.
CREATE TABLE IF NOT EXISTS supervision_dead_letter (
    record_id   uuid PRIMARY KEY,
    outbox_id   bigint NOT NULL,
    kind        text NOT NULL,
    payload     jsonb NOT NULL,
    reason      text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now()
);
-- One forwarder at a time across the app servers: a lease renewed while it works, taken over when it lapses
-- (an app server killed holds nothing for longer than the lease).
CREATE TABLE IF NOT EXISTS supervision_forwarder (
    id          integer PRIMARY KEY CHECK (id = 1),
    holder      text NOT NULL,
    expires_at  timestamptz NOT NULL
);
GRANT SELECT, INSERT, UPDATE ON supervision_outbox, supervision_forwarder TO ihh_app;
GRANT SELECT, INSERT ON supervision_dead_letter TO ihh_app;
GRANT USAGE ON SEQUENCE supervision_outbox_id_seq TO ihh_app;
