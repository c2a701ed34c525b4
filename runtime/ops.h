// ORT glue for longtail's custom operators (domain "longtail").
#ifndef LONGTAIL_OPS_H
#define LONGTAIL_OPS_H

// lt_ops_register adds the "longtail" op domain to session options so (an
// OrtSessionOptions* of the ORT library loaded from lib). It returns NULL, or a
// message that the caller frees.
char *lt_ops_register(const char *lib, void *so);

// lt_ops_reset forgets the domain and API of a library about to be unloaded.
void lt_ops_reset(void);

#endif
