/* Building stores from the outside world: a collection's store made from the
 * coordinator's catalog, and a WAL entry's bytes applied to a store. Shared
 * by the query role and the data role's sealer (store.h). */
#include "catalog.h"
#include "store.h"
#include "tm_rpc.h"

int tm_catalog_collection(struct tm_rpc_client *coord, int64_t coll_id, struct tm_collection *out)
{
    struct tm_mpw w;
    struct tm_rpc_reply rep;
    struct tm_status st;
    tm_mpw_init(&w);
    tm_mpw_map(&w, 1);
    tm_mpw_cstr(&w, "id"), tm_mpw_int(&w, coll_id);
    int rc = tm_rpc_call(coord, "cat.coll", w.buf.data, w.buf.len, 10000, &rep, &st);
    tm_mpw_free(&w);
    if (rc == TM_ESTATUS && st.code == TM_MV_COLL_NOT_FOUND)
        return TM_ENOTFOUND;
    if (rc)
        return rc;
    rc = tm_collection_decode(&rep.body, out);
    tm_rpc_reply_free(&rep);
    return rc;
}

int tm_store_from_catalog(struct tm_rpc_client *coord, int64_t coll_id, struct tm_store **out)
{
    struct tm_collection coll;
    *out = NULL;
    int rc = tm_catalog_collection(coord, coll_id, &coll);
    if (rc == TM_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    struct tm_store *store = tm_store_new(coll_id);
    rc = store ? tm_store_set_schema(store, &coll.schema) : TM_ENOMEM;
    tm_collection_free(&coll);
    if (rc) {
        tm_store_free(store);
        return rc;
    }
    *out = store;
    return 0;
}

int tm_store_apply_entry(struct tm_store *s, const struct tm_entry_hdr *h, struct tm_span rows_span,
                         struct tm_span pks_span)
{
    struct tm_batch rows, pks;
    struct tm_mpr r;
    int rc = 0;
    tm_batch_init(&rows);
    tm_batch_init(&pks);
    if (rows_span.p && (tm_mpr_init(&r, rows_span.p, rows_span.len), 1))
        rc = tm_batch_view(&r, &rows);
    if (!rc && pks_span.p && (tm_mpr_init(&r, pks_span.p, pks_span.len), 1))
        rc = tm_batch_view(&r, &pks);
    if (!rc)
        rc = tm_store_apply(s, h, &rows, &pks, s->pk_field_id);
    tm_batch_free(&rows);
    tm_batch_free(&pks);
    return rc;
}
