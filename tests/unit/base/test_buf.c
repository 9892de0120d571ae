/* tm_buf (base/tm_buf.h): a large buffer moves to a mapping of its own past
 * 1 MiB and keeps its bytes through mremap growth, its pages faulted in
 * ahead of use; steal hands out heap memory either way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "tm_buf.h"
#include "tm_err.h"

/* Appends `total` bytes in uneven pieces of a running pattern. */
static void fill(struct tm_buf *b, size_t total)
{
    uint8_t piece[777];
    for (size_t at = 0; at < total;) {
        size_t n = total - at < sizeof piece ? total - at : sizeof piece;
        for (size_t i = 0; i < n; i++)
            piece[i] = (uint8_t)((at + i) * 31 + 7);
        assert_int_equal(tm_buf_append(b, piece, n), 0);
        at += n;
    }
}

static void assert_pattern(const uint8_t *p, size_t total)
{
    for (size_t i = 0; i < total; i++)
        if (p[i] != (uint8_t)(i * 31 + 7))
            fail_msg("byte %zu differs", i);
}

static void test_large_buffer_maps_and_keeps_its_bytes(void **state)
{
    (void)state;
    struct tm_buf b;
    tm_buf_init(&b);
    tm_buf_set_large(&b);
    fill(&b, 100000);
    assert_false(b.mapped); /* small: still on the heap */
    fill(&b, 9u << 20);     /* past 1 MiB, and grown by mremap several times */
    assert_true(b.mapped);
    assert_true(b.ready >= b.len && b.ready <= b.cap);
    assert_int_equal(b.len, 100000 + (9u << 20));
    assert_pattern(b.data, 100000);
    assert_pattern(b.data + 100000, 9u << 20);

    size_t len;
    uint8_t *p = tm_buf_steal(&b, &len);
    assert_non_null(p);
    assert_int_equal(len, 100000 + (9u << 20));
    assert_pattern(p + 100000, 9u << 20);
    free(p); /* heap memory, as for any buffer */
    assert_null(b.data);
    assert_false(b.mapped);

    fill(&b, 3u << 20);
    assert_true(b.mapped);
    tm_buf_free(&b);
    assert_true(b.large); /* kept for the next growth */
    assert_null(b.data);
}

static void test_ordinary_buffer_stays_on_the_heap(void **state)
{
    (void)state;
    struct tm_buf b;
    tm_buf_init(&b);
    fill(&b, 3u << 20);
    assert_false(b.mapped);
    assert_pattern(b.data, 3u << 20);
    tm_buf_free(&b);
}

static void test_borrowed_buffer(void **state)
{
    (void)state;
    char bytes[] = "borrowed";
    struct tm_buf b;
    tm_buf_borrow(&b, bytes, 8);
    assert_ptr_equal(b.data, bytes);
    assert_int_equal(tm_buf_append(&b, "!", 1), TM_EINVAL);
    assert_int_equal(b.len, 8);
    assert_string_equal(bytes, "borrowed");
    size_t n;
    uint8_t *own = tm_buf_steal(&b, &n); /* a copy the caller frees */
    assert_non_null(own);
    assert_ptr_not_equal(own, bytes);
    assert_int_equal(n, 8);
    assert_memory_equal(own, "borrowed", 8);
    free(own);
    assert_int_equal(tm_buf_append(&b, "x", 1), 0); /* emptied: an ordinary buffer again */
    tm_buf_free(&b);
    tm_buf_borrow(&b, bytes, 8);
    tm_buf_free(&b); /* forgets; bytes is on the stack */
    assert_null(b.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_large_buffer_maps_and_keeps_its_bytes),
        cmocka_unit_test(test_ordinary_buffer_stays_on_the_heap),
        cmocka_unit_test(test_borrowed_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
