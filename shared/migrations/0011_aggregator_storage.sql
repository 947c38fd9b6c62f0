-- Storage settings for the rows the aggregator rewrites on every batch (owner: aggregator).

-- Free space in each page lets an update of votes or counts stay on the same page without a
-- new index entry (a HOT update): the area rows are rewritten on nearly every batch.
ALTER TABLE area_totals SET (fillfactor = 50);
ALTER TABLE area_summary SET (fillfactor = 50);
ALTER TABLE tps_results SET (fillfactor = 80);

-- Party-list forms carry every candidate line (2-3 kB of JSON): lz4 compresses them several
-- times faster than the default pglz, which was the bulk of the submissions insert.
ALTER TABLE submissions ALTER COLUMN form SET COMPRESSION lz4;
