#include "runtime/model/config_json.h"

namespace bcvk::model {

nlohmann::json hyperparameters_json(const loaders::LlamaConfig& c) {
  return {{"n_layers", c.n_layers},
          {"n_embd", c.n_embd},
          {"n_ff", c.n_ff},
          {"n_heads", c.n_heads},
          {"n_kv_heads", c.n_kv_heads},
          {"head_dim", c.head_dim},
          {"rope_dims", c.rope_dims},
          {"n_ctx", c.n_ctx},
          {"n_vocab", c.n_vocab},
          {"rope_base", c.rope_base},
          {"rms_eps", c.rms_eps},
          {"tied_embeddings", c.tied_embeddings}};
}

}  // namespace bcvk::model
