-- submissions.form as json instead of jsonb (owner: aggregator).

-- The form is written once and read back whole (reviews, the api's TPS page); nothing queries
-- inside it. json stores the aggregator's canonical text as it comes, where jsonb parsed and
-- rebuilt every form on the COPY: about 30 of the 55-65 us per form that COPY cost.
-- jsonb_build_object and the json codec of shared/db.py read it as before.
ALTER TABLE submissions ALTER COLUMN form TYPE json USING form::json;
-- The rewrite keeps 0011's lz4, but say it again: party-list forms are 2-3 kB of text.
ALTER TABLE submissions ALTER COLUMN form SET COMPRESSION lz4;
