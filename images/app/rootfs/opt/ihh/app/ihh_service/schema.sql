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
