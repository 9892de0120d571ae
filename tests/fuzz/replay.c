/* Replays fuzz inputs without libFuzzer: every regular file of each
 * directory named on the command line (or each file named) is read and
 * passed to LLVMFuzzerTestOneInput once, in name order, so that ctest runs a
 * corpus with the ordinary compiler and the sanitizer build. Exits 0 when
 * every input ran (a bug aborts or trips a sanitizer first), 1 when an
 * argument cannot be read or there was no input at all. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    for (size_t got = 1; buf && got;) {
        if (n == cap) {
            uint8_t *g = realloc(buf, cap *= 2);
            if (!g)
                break;
            buf = g;
        }
        n += got = fread(buf + n, 1, cap - n, f);
    }
    int bad = ferror(f) || !buf;
    fclose(f);
    if (!bad)
        LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return bad ? -1 : 0;
}

static int skip_dots(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* Runs every regular file in dir; returns how many, or -1. */
static int run_dir(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, skip_dots, alphasort), ran = 0;
    for (int k = 0; k < n; k++) {
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, names[k]->d_name);
        if (ran >= 0 && !stat(path, &sb) && S_ISREG(sb.st_mode))
            ran = run_file(path) ? -1 : ran + 1;
        free(names[k]);
    }
    free(names);
    return n < 0 ? -1 : ran;
}

int main(int argc, char **argv)
{
    int total = 0;
    for (int a = 1; a < argc; a++) {
        struct stat sb;
        int ran = stat(argv[a], &sb)       ? -1
                  : S_ISDIR(sb.st_mode)    ? run_dir(argv[a])
                  : run_file(argv[a]) == 0 ? 1
                                           : -1;
        if (ran < 0) {
            fprintf(stderr, "replay: cannot read %s\n", argv[a]);
            return 1;
        }
        total += ran;
    }
    printf("replayed %d inputs\n", total);
    return total ? 0 : 1;
}
