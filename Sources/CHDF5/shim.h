// HDF5's C API (Debian: libhdf5-dev, serial build).
#include <hdf5.h>

// HDF5's native type ids are macros over globals that Swift cannot import;
// these inline accessors expose them.
static inline hid_t trawl_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t trawl_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t trawl_h5t_c_s1(void) { return H5T_C_S1; }
static inline hid_t trawl_h5p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t trawl_h5p_file_access(void) { return H5P_FILE_ACCESS; }
