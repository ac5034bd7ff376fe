// A chunk of a value a fusion group computes (the LSTM cell: the gates are a sum, then
// split in four) is pushed into the group through the ops computing it: chunk(a + b)
// piece k = chunk(a)[k] + chunk(b)[k] for elementwise ops, so each piece is computed from
// views of the group's inputs and the chunk costs neither a copy nor a second kernel. The
// pieces become group outputs, and their consumers merge as usual (producer_merging.h).
// Each push carries an id and the value's rank (see KernelTensor in lowering.h).
#pragma once

#include "torch/csrc/jit/codegen/fuser/pass_declarations.h"

#include <c10/util/Optional.h>
#include <cstddef>
#include <cstdint>

namespace torch_fuser {

// A piece of a tensor split by a chunk with constant arguments: prim::ConstantChunk, or
// aten::chunk whose list only feeds a prim::ListUnpack.
struct ChunkPiece {
  torch::jit::Value* self = nullptr;
  int64_t chunks = 0;
  int64_t dim = 0;
  size_t piece = 0;
};
c10::optional<ChunkPiece> chunkPiece(torch::jit::Value* v);

// Which pushes tryPushChunk makes.
struct PushOptions {
  // A lone fusible op computing the chunked value becomes a group of its own to push
  // into (z = x * x; a, b = z.chunk(2)).
  bool into_lone_ops = false;
  // The group may compute more than the chunked value, and the value may be read
  // elsewhere too (autodiff keeps intermediates of the MiLSTM cell's gates): those
  // results are computed piece by piece as well and written whole by joins of their
  // pieces. Only once autodiff's reads of sizes no longer keep values in the group's
  // results (sizes_from_inputs.h), so no value is written only for its size.
  bool keep_other_results = false;
};

// When `consumer` is a chunk (prim::ConstantChunk, or the ListUnpack of an aten::chunk)
// of a value that a group computes, pushes it into that group and returns the group.
// Returns null when `consumer` is no such chunk or the push was refused (recorded for
// explain()).
torch::jit::Node* tryPushChunk(FusionState& state, torch::jit::Node* consumer, PushOptions options);

// Pushes into one group are numbered from the subgraph itself (not from a map keyed by
// the group's address), so equal graphs get equal ids.
int64_t nextPushId(const torch::jit::Graph& subgraph);
// Shifts the ids of the pushes in `group` past `first`, so that two groups pushed into
// separately keep their pushes apart when one merges into the other.
void renumberPushes(torch::jit::Node* group, int64_t first);

}  // namespace torch_fuser
