// OpenBLAS's CBLAS interface (Debian: libopenblas-dev).
#include <cblas.h>
#include <stddef.h>

// LAPACK's symmetric eigensolver (MRRR), which libopenblas also exports; Debian's
// OpenBLAS headers do not declare it. Fortran conventions: column-major, every argument
// by pointer, one trailing hidden length per character argument.
void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a,
             const int *lda, const double *vl, const double *vu, const int *il, const int *iu,
             const double *abstol, int *m, double *w, double *z, const int *ldz, int *isuppz,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_length, size_t range_length, size_t uplo_length);
