-- Secrets at rest.
-- A channel's whole config is kept encrypted in `sealed` (AES-256-GCM under the key file, see
-- src/secrets.ts); `config` keeps only its masked form, what the API shows. SQL cannot see the
-- key file, so rows written before this migration are sealed in code at start-up
-- (sealChannelSecrets in src/alerts/channels.ts): until then `sealed` is NULL and `config` is
-- still the plaintext.
ALTER TABLE channels ADD COLUMN sealed TEXT;

-- Session rows are now keyed by the SHA-256 of the cookie value; the old rows are keyed by the
-- cookie value itself. Dropping them signs everyone out once.
DELETE FROM sessions;
