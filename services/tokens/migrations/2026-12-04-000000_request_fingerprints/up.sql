-- I14: a grant or a credential copy serves the request it was made for. The fingerprint is
-- the library's hash of what the imported data source fetches; empty for grants and copies
-- made before it was recorded (they stay usable until the next import or update rebinds
-- them).
ALTER TABLE token_grants ADD COLUMN request_fingerprint text NOT NULL DEFAULT ''
    CHECK (char_length(request_fingerprint) <= 128);
ALTER TABLE credentials ADD COLUMN request_fingerprint text NOT NULL DEFAULT ''
    CHECK (char_length(request_fingerprint) <= 128);
