/* A small program on bcvk's C API: load a model, wrap a question in its chat template, and
 * stream the answer token by token.
 *
 *   chat MODEL.gguf "What is a GPU?" [MAX_TOKENS]
 */
#include <bcvk/bcvk.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char* what, bcvk_status s) {
  fprintf(stderr, "chat: %s: %s: %s\n", what, bcvk_status_name(s), bcvk_last_error());
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODEL.gguf QUESTION [MAX_TOKENS]\n", argv[0]);
    return 2;
  }
  const int max_tokens = argc > 3 ? atoi(argv[3]) : 64;
  fprintf(stderr, "bcvk %s\n", bcvk_version());

  uint32_t devices = 0;
  bcvk_status s = bcvk_device_count(&devices);
  if (s != BCVK_OK) return fail("devices", s);
  for (uint32_t i = 0; i < devices; ++i) {
    bcvk_device_info d;
    if (bcvk_device_get(i, &d) == BCVK_OK)
      fprintf(stderr, "device %u: %s (%s)%s\n", d.index, d.name, d.type,
              d.is_default ? " [default]" : "");
  }

  bcvk_model_options mo;
  bcvk_model_options_init(&mo);
  mo.context = 512;
  bcvk_model* model = NULL;
  if ((s = bcvk_model_load(argv[1], &mo, &model)) != BCVK_OK) return fail("load", s);
  bcvk_model_info info;
  bcvk_model_get_info(model, &info);

  /* The conversation in the chat template, as ids (the message stays text): ask for the count,
   * then tokenize. */
  bcvk_chat_message msg = {"user", argv[2]};
  size_t n = 0;
  bcvk_tokenize_chat(model, &msg, 1, 1, NULL, 0, &n);
  int32_t* ids = malloc(n * sizeof *ids);
  if ((s = bcvk_tokenize_chat(model, &msg, 1, 1, ids, n, &n)) != BCVK_OK)
    return fail("chat template", s);

  bcvk_session* session = NULL;
  if ((s = bcvk_session_create(model, 0, &session)) != BCVK_OK) return fail("session", s);
  bcvk_sampler_options so;
  bcvk_sampler_options_init(&so); /* greedy */
  bcvk_sampler* sampler = NULL;
  bcvk_sampler_create(&so, &sampler);

  if ((s = bcvk_session_prefill(session, ids, n)) != BCVK_OK) return fail("prefill", s);
  int generated = 0;
  for (; generated < max_tokens; ++generated) {
    const float* logits = NULL;
    size_t vocab = 0;
    int32_t next = 0;
    bcvk_session_logits(session, &logits, &vocab);
    bcvk_sampler_sample(sampler, logits, vocab, &next);
    if (next == info.eos || next == info.end_of_turn) break;
    char piece[256];
    size_t plen = 0;
    if (bcvk_detokenize(model, &next, 1, 0, piece, sizeof piece, &plen) == BCVK_OK) {
      fwrite(piece, 1, plen, stdout);
      fflush(stdout);
    }
    if ((s = bcvk_session_decode(session, next)) != BCVK_OK) return fail("decode", s);
  }
  printf("\n");
  fprintf(stderr, "%zu prompt tokens, %d generated\n", n, generated);

  bcvk_sampler_free(sampler);
  bcvk_session_free(session);
  bcvk_model_free(model);
  free(ids);
  return 0;
}
