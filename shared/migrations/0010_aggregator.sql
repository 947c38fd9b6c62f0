-- Aggregator additions (owner: aggregator, migrations 0010-0019).

-- Digest of the counted form (sha256 of its canonical JSON): a later form with the same digest
-- changes nothing and is a duplicate, while a form with the same vote lines but other figures
-- (ballots, section III) from the same operator is still a revision that becomes current.
ALTER TABLE tps_results ADD COLUMN form_digest text;
