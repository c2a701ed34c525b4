// ORT glue for longtail's custom operators (domain "longtail").
#ifndef LONGTAIL_OPS_H
#define LONGTAIL_OPS_H

#include <stddef.h>

enum {
  LT_CUSTOM_OPS = 1,      // add the "longtail" op domain
  LT_NO_MEM_PATTERN = 2,  // turn off ORT's memory pattern
};

// lt_session_options applies flags to so, an OrtSessionOptions* of the ORT
// library loaded from lib, through the C API that onnxruntime_go does not
// wrap. It returns NULL, or a message that the caller frees.
char *lt_session_options(const char *lib, void *so, int flags);

// lt_ops_reset forgets the domain and API of a library about to be unloaded,
// and frees the kernels' scratch buffers.
void lt_ops_reset(void);

// lt_scratch_release frees the scratch buffers the kernels keep between
// runs (waiting for any kernel using one); lt_scratch_bytes is how many
// bytes they hold.
void lt_scratch_release(void);
size_t lt_scratch_bytes(void);

#endif
