-- Leaner hot tables (owner: aggregator). Every validated form writes one row to each of
-- submissions, tps_results and tps_result_versions; each foreign key and index on them is paid
-- per form. Measured on the national benchmark (direct mode, batch 5000): the three COPYs went
-- from about 61 to 46 us of wall time per form.
--
-- 1. The election foreign keys of the three tables go. Their row triggers ran one lookup of
--    `elections` per row. The aggregator, the only writer of these tables, reads the elections
--    in the batch's own transaction and counts a form of an unknown election as
--    UNKNOWN_ELECTION instead of writing it (aggregation.py), and no code deletes elections
--    (a roster reload deletes rows within an election only).
ALTER TABLE submissions DROP CONSTRAINT submissions_election_fkey;
ALTER TABLE tps_results DROP CONSTRAINT tps_results_election_fkey;
ALTER TABLE tps_result_versions DROP CONSTRAINT tps_result_versions_election_fkey;

-- 2. No query reads submissions by operator (the intake finds a submission by its id, the api
--    by TPS); the index was kept up for nothing.
DROP INDEX submissions_operator_idx;

-- 3. A TPS's history is read by (election, contest, tps) in id order: that index becomes the
--    primary key, and the index on the identity id alone goes (ids stay unique: identity).
ALTER TABLE tps_result_versions DROP CONSTRAINT tps_result_versions_pkey;
DROP INDEX tps_result_versions_tps_idx;
ALTER TABLE tps_result_versions ADD PRIMARY KEY (election, contest, tps, id);
