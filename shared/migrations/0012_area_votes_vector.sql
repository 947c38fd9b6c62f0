-- Votes per area as one vector on the area_summary row (owner: aggregator).
--
-- area_totals held one row per candidate line per area: a party-list form touched 18 rows per
-- ancestor area, and those upserts were most of the aggregator's PostgreSQL time. The lines of
-- an area now live in area_summary.votes, indexed by the line's number: votes[3] is line 'c3'
-- (paslon, DPD) or 'p3' (party total of DPR and DPRD, the party-list contests of
-- shared.form.PARTY_LIST_CONTESTS). NULL marks a line no form has moved yet, so readers list
-- exactly the lines the old table had rows for. area_totals stays as a read-only view.

ALTER TABLE area_summary ADD COLUMN votes bigint[];

-- Element-wise total + delta; a NULL delta element leaves the total's element as it is.
CREATE FUNCTION deskpemilu_add_votes(total bigint[], delta bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_agg(CASE WHEN d IS NULL THEN t ELSE coalesce(t, 0) + d END ORDER BY n)
    FROM unnest(total, delta) WITH ORDINALITY AS u(t, d, n)
$$;

-- Existing line rows move into the vectors (summed over nothing: one row per line and shard).
INSERT INTO area_summary AS s (election, contest, area_code, shard, votes)
SELECT election, contest, area_code, shard,
       ARRAY(SELECT (lines ->> i::text)::bigint FROM generate_series(1, top) AS i)
FROM (SELECT election, contest, area_code, shard,
             jsonb_object_agg(substr(candidate, 2)::int, votes) AS lines,
             max(substr(candidate, 2)::int) AS top
      FROM area_totals GROUP BY election, contest, area_code, shard) t
ORDER BY election, contest, area_code, shard
ON CONFLICT (election, contest, area_code, shard) DO UPDATE SET votes = EXCLUDED.votes;

DROP TABLE area_totals;

-- The old shape for readers: one row per line, area and shard (sum over shard, as before).
CREATE VIEW area_totals AS
SELECT s.election, s.contest, s.area_code,
       CASE WHEN s.contest IN ('DPR', 'DPRD_PROV', 'DPRD_KABKO') THEN 'p' ELSE 'c' END
           || u.n AS candidate,
       s.shard, u.votes
FROM area_summary s, unnest(s.votes) WITH ORDINALITY AS u(votes, n)
WHERE u.votes IS NOT NULL;
