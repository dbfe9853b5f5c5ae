// glibc's allocator tuning (`mallopt`, `M_MMAP_THRESHOLD`, `M_TRIM_THRESHOLD`), which the
// Glibc module does not import.
#include <malloc.h>
