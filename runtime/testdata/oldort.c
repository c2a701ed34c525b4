/* A stand-in for an ONNX Runtime build older than 1.24: it exports
   OrtGetApiBase, reports version 1.10.0 and has no C API 24. Built by
   runtime's tests with the system C compiler. */
#include <stddef.h>

typedef struct OrtApiBase {
  const void *(*GetApi)(unsigned version);
  const char *(*GetVersionString)(void);
} OrtApiBase;

static const void *get_api(unsigned version) { (void)version; return NULL; }
static const char *get_version(void) { return "1.10.0"; }
static OrtApiBase base = {get_api, get_version};

const OrtApiBase *OrtGetApiBase(void) { return &base; }
