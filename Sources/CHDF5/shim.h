// HDF5's C API (Debian: libhdf5-dev, serial build).
#include <hdf5.h>

// HDF5's native type ids are macros over globals that Swift cannot import;
// these inline accessors expose them.
static inline hid_t trawl_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t trawl_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t trawl_h5t_c_s1(void) { return H5T_C_S1; }
static inline hid_t trawl_h5p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t trawl_h5p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t trawl_h5t_native_uint8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t trawl_h5t_native_uint32(void) { return H5T_NATIVE_UINT32; }
// Likewise the size of variable-length strings, default ids and the file access
// flags (macros that call H5open()).
static inline size_t trawl_h5t_variable(void) { return H5T_VARIABLE; }
static inline hid_t trawl_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t trawl_h5s_all(void) { return H5S_ALL; }
static inline hid_t trawl_h5e_default(void) { return H5E_DEFAULT; }
static inline unsigned trawl_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned trawl_h5f_acc_rdwr(void) { return H5F_ACC_RDWR; }
static inline unsigned trawl_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
