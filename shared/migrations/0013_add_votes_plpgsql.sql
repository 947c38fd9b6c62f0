-- deskpemilu_add_votes in PL/pgSQL (owner: aggregator): the SQL version of 0012 rebuilt the
-- array through unnest and array_agg, about 14 us per call; assigning elements of the expanded
-- array in place takes about 6 us. At national scale a batch calls it for some four area rows
-- per form (desa, kecamatan, kabupaten, provinsi). Same result: a NULL delta element leaves
-- the total's element as it is, a NULL total takes the delta.
CREATE OR REPLACE FUNCTION deskpemilu_add_votes(total bigint[], delta bigint[]) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    result bigint[] := total;
BEGIN
    IF total IS NULL THEN
        RETURN delta;
    END IF;
    FOR i IN 1 .. coalesce(array_upper(delta, 1), 0) LOOP
        IF delta[i] IS NOT NULL THEN
            result[i] := coalesce(result[i], 0) + delta[i];
        END IF;
    END LOOP;
    RETURN result;
END
$$;
