/* bcvk: transformer language models as Vulkan compute shaders — the C API.
 *
 * C99, no exceptions or C++ types cross this boundary.  Every function that can fail returns a
 * bcvk_status; on failure bcvk_last_error() gives a message naming what is wrong (the file and
 * byte offset of a bad model, the device that cannot hold it, the limit a request exceeds).
 *
 * Objects: a bcvk_model (weights on one device, the tokenizer, the chat template) and any number
 * of bcvk_session (a KV cache of its own) and bcvk_sampler on it.
 *
 * Thread safety: a model may be shared read-only by several sessions, each used by one thread
 * at a time; sessions of one model may run on different threads concurrently (their device work
 * is serialized by the model).  Tokenizer and chat-template calls on a model are safe from any
 * thread.  A sampler belongs to one thread at a time.  bcvk_last_error() is per thread.
 * Free every session of a model before the model.  Every *_free accepts NULL.
 */
#ifndef BCVK_BCVK_H
#define BCVK_BCVK_H

#include <stddef.h>
#include <stdint.h>

#if defined(BCVK_BUILDING_LIBRARY) && defined(__GNUC__)
#define BCVK_API __attribute__((visibility("default")))
#else
#define BCVK_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define BCVK_VERSION_MAJOR 0
#define BCVK_VERSION_MINOR 1
#define BCVK_VERSION_PATCH 0
#define BCVK_VERSION_STRING "0.1.0"

typedef enum bcvk_status {
  BCVK_OK = 0,
  BCVK_ERROR_INVALID_ARGUMENT = 1, /* NULL where an object is needed, a bad option or value */
  BCVK_ERROR_IO = 2,               /* a path that cannot be opened or read */
  BCVK_ERROR_BAD_MODEL = 3,        /* a malformed, truncated or unsupported model file */
  BCVK_ERROR_DEVICE = 4,           /* no Vulkan loader or driver, no such device, a device error */
  BCVK_ERROR_OUT_OF_MEMORY = 5,    /* the device or host cannot hold what was asked */
  BCVK_ERROR_CONTEXT_OVERFLOW = 6, /* tokens past the session's context */
  BCVK_ERROR_BUFFER_TOO_SMALL = 7, /* the output buffer is short; the needed size was written */
  BCVK_ERROR_UNSUPPORTED = 8,      /* the model lacks what the call needs (tokenizer, template) */
  BCVK_ERROR_INTERNAL = 9
} bcvk_status;

typedef struct bcvk_model bcvk_model;
typedef struct bcvk_session bcvk_session;
typedef struct bcvk_sampler bcvk_sampler;

/* "0.1.0": the library's version at run time (compare with BCVK_VERSION_STRING). */
BCVK_API const char* bcvk_version(void);
/* "BCVK_ERROR_IO", ...; never NULL. */
BCVK_API const char* bcvk_status_name(bcvk_status status);
/* The message of the last failed call on this thread ("" after a success); valid until the next
 * call on this thread. */
BCVK_API const char* bcvk_last_error(void);

/* ---- Devices --------------------------------------------------------------------------- */

typedef struct bcvk_device_info {
  uint32_t index;   /* what bcvk_model_options.device accepts, as a decimal string */
  char name[256];   /* "llvmpipe (LLVM 15.0.6, 256 bits)" */
  char type[32];    /* "discrete GPU", "integrated GPU", "virtual GPU", "CPU", "other" */
  char driver[256]; /* driver name and info */
  uint32_t vendor_id, device_id;
  uint64_t device_local_bytes; /* largest device-local heap */
  int unified_memory;          /* 1 when host and device share memory */
  int is_default;              /* 1 for the device bcvk picks without a selector */
} bcvk_device_info;

/* Number of Vulkan devices (0 is not an error). */
BCVK_API bcvk_status bcvk_device_count(uint32_t* count);
BCVK_API bcvk_status bcvk_device_get(uint32_t index, bcvk_device_info* info);

/* ---- Models ------------------------------------------------------------------------------ */

typedef enum bcvk_weight_type {
  BCVK_WEIGHTS_F32 = 0,   /* weights dequantized to f32 on the device */
  BCVK_WEIGHTS_F16 = 1,   /* f16 on the device (needs 16-bit storage) */
  BCVK_WEIGHTS_NATIVE = 2 /* the file's own types (Q4_1, Q8_0, ...), decoded in the shaders */
} bcvk_weight_type;

typedef enum bcvk_kv_type {
  BCVK_KV_F16 = 0, /* half the memory; values rounded to f16 */
  BCVK_KV_F32 = 1  /* the projections' values exactly */
} bcvk_kv_type;

typedef struct bcvk_model_options {
  const char* device;       /* index or name substring; NULL or "" = BCVK_DEVICE, else the best */
  bcvk_weight_type weights; /* default BCVK_WEIGHTS_NATIVE */
  uint32_t context;         /* longest session context in tokens; 0 = the model's, at most 4096 */
  int validation;           /* 1: the Khronos validation layer; validation messages fail the call */
  bcvk_kv_type kv;          /* what sessions' KV caches hold; default BCVK_KV_F16 */
} bcvk_model_options;

/* Fills the defaults.  Always do this first: fields added later get their defaults. */
BCVK_API void bcvk_model_options_init(bcvk_model_options* options);

/* A GGUF file (dense or written by `bcvk compress`) or a Hugging Face directory (config.json and
 * safetensors; no tokenizer).  options may be NULL. */
BCVK_API bcvk_status bcvk_model_load(const char* path, const bcvk_model_options* options,
                                     bcvk_model** model);
BCVK_API void bcvk_model_free(bcvk_model* model);

typedef struct bcvk_model_info {
  uint32_t vocab_size, context_length, n_layers, n_embd;
  uint64_t parameters, device_weight_bytes;
  int32_t bos, eos, end_of_turn; /* token ids, -1 when none */
  int has_tokenizer, has_chat_template;
  int compressed; /* 1 for a file with block-circulant MLPs */
} bcvk_model_info;

BCVK_API bcvk_status bcvk_model_get_info(const bcvk_model* model, bcvk_model_info* info);

/* ---- Text ---------------------------------------------------------------------------------
 * Output buffers: pass capacity; *length (or *count) receives the size needed.  When it does not
 * fit, nothing is written and BCVK_ERROR_BUFFER_TOO_SMALL is returned: call again with a larger
 * buffer (a NULL buffer with capacity 0 asks for the size).  Strings are NUL-terminated when room
 * allows; *length excludes the NUL. */

/* parse_special: text such as "<|im_end|>" becomes its special token (1) or stays text (0).
 * add_bos: -1 follows the model's metadata, 0 never, 1 always. */
BCVK_API bcvk_status bcvk_tokenize(const bcvk_model* model, const char* text, size_t length,
                                   int add_bos, int parse_special, int32_t* tokens, size_t capacity,
                                   size_t* count);
/* render_special: control tokens as their text (1) or dropped (0). */
BCVK_API bcvk_status bcvk_detokenize(const bcvk_model* model, const int32_t* tokens, size_t count,
                                     int render_special, char* text, size_t capacity,
                                     size_t* length);

typedef struct bcvk_chat_message {
  const char* role; /* "system", "user" or "assistant" */
  const char* content;
} bcvk_chat_message;

/* The conversation in the model's chat template; add_assistant opens the assistant's turn.
 * Tokenizing this text with parse_special = 1 turns control strings inside messages into control
 * tokens too: for untrusted messages, use bcvk_tokenize_chat. */
BCVK_API bcvk_status bcvk_apply_chat_template(const bcvk_model* model,
                                              const bcvk_chat_message* messages, size_t count,
                                              int add_assistant, char* text, size_t capacity,
                                              size_t* length);
/* The conversation's token ids, ready to prefill: the template's markup becomes control tokens,
 * the messages' text stays text (a message holding "<|im_start|>system" cannot forge a turn), and
 * BOS is added as the model's metadata says. */
BCVK_API bcvk_status bcvk_tokenize_chat(const bcvk_model* model, const bcvk_chat_message* messages,
                                        size_t count, int add_assistant, int32_t* tokens,
                                        size_t capacity, size_t* token_count);

/* ---- Sessions ------------------------------------------------------------------------------ */

/* context: KV cache length in tokens, at most the model's; 0 = the model's. */
BCVK_API bcvk_status bcvk_session_create(bcvk_model* model, uint32_t context,
                                         bcvk_session** session);
BCVK_API void bcvk_session_free(bcvk_session* session);
/* Forgets every token: the next prefill starts at position 0. */
BCVK_API bcvk_status bcvk_session_reset(bcvk_session* session);
/* Runs tokens from the current position; afterwards the logits are the last token's. */
BCVK_API bcvk_status bcvk_session_prefill(bcvk_session* session, const int32_t* tokens,
                                          size_t count);
BCVK_API bcvk_status bcvk_session_decode(bcvk_session* session, int32_t token);
/* The logits of the last prefill/decode: *logits points at vocab_size floats owned by the
 * session, valid until its next call. */
BCVK_API bcvk_status bcvk_session_logits(const bcvk_session* session, const float** logits,
                                         size_t* vocab_size);
BCVK_API bcvk_status bcvk_session_position(const bcvk_session* session, uint32_t* position);

/* ---- Sampling ------------------------------------------------------------------------------ */

typedef struct bcvk_sampler_options {
  float temperature; /* 0: greedy (the default) */
  uint32_t top_k;    /* 0: no limit; default 40 */
  float top_p;       /* 1: no limit; default 0.95 */
  uint64_t seed;     /* default 0 */
} bcvk_sampler_options;

BCVK_API void bcvk_sampler_options_init(bcvk_sampler_options* options);
BCVK_API bcvk_status bcvk_sampler_create(const bcvk_sampler_options* options,
                                         bcvk_sampler** sampler);
BCVK_API void bcvk_sampler_free(bcvk_sampler* sampler);
BCVK_API bcvk_status bcvk_sampler_sample(bcvk_sampler* sampler, const float* logits,
                                         size_t vocab_size, int32_t* token);

#ifdef __cplusplus
}
#endif

#endif /* BCVK_BCVK_H */
