#include "torch/csrc/jit/codegen/fuser/sizes_from_inputs.h"

#include "torch/csrc/jit/codegen/fuser/fusion_state.h"
#include "torch/csrc/jit/codegen/fuser/fusion_subgraph.h"
#include "torch/csrc/jit/codegen/fuser/lowering.h"
#include "torch/csrc/jit/codegen/fuser/op_table.h"

#include <torch/csrc/jit/ir/alias_analysis.h>
#include <torch/csrc/jit/ir/ir.h>

#include <algorithm>
#include <iterator>
#include <tuple>
#include <unordered_set>
#include <vector>

namespace torch_fuser {
namespace {

using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

// One piece of a chunk: its sizes are prim::ChunkSizes of the chunked value's (output 0
// for every piece but the last, which may be smaller).
struct ChunkPiece {
  int64_t chunks = 0;
  int64_t dim = 0;  // as the user wrote it: the fallback and eager cut there at any rank
  bool last = false;
  int64_t push = -1;            // a chunk pushed into the group: its push (one per input)
  const Node* chunk = nullptr;  // else the chunk itself
  bool operator==(const ChunkPiece& o) const {
    return chunks == o.chunks && dim == o.dim && last == o.last && push == o.push &&
           chunk == o.chunk;
  }
};

// What shapes a group output: the broadcast of `leaves` (group inputs, outside values)
// and, where it is computed from one piece of a chunk, of that piece of the broadcast of
// `chunked_leaves`.
struct ShapeSource {
  std::vector<Value*> leaves;
  std::vector<Value*> chunked_leaves;
  c10::optional<ChunkPiece> piece;
  bool operator==(const ShapeSource& o) const {
    return leaves == o.leaves && chunked_leaves == o.chunked_leaves && piece == o.piece;
  }
};

// The piece `v` is of its ConstantChunk, or nullopt where its size is not the regular one
// although it is not the last output: torch.chunk may cut fewer pieces than asked
// (5 into 4: 2, 2, 1), and eager then raises only if the missing last output is read.
c10::optional<ChunkPiece> pieceOf(const Value* v) {
  const Node* chunk = v->node();
  ChunkPiece piece;
  piece.chunks = chunk->i(c10::attr::chunks);
  piece.dim = chunk->i(c10::attr::dim);
  piece.last = v->offset() + 1 == chunk->outputs().size();
  if (!piece.last && !chunk->outputs().back()->hasUses()) return c10::nullopt;
  if (chunk->hasAttribute(pushedChunkIdAttr())) {
    // Pushed chunks keep a dim counted from the end and the rank it was counted at.
    piece.dim += chunk->i(pushedChunkRankAttr());
    piece.push = chunk->i(pushedChunkIdAttr());
  } else {
    piece.chunk = chunk;
  }
  return piece;
}

void addLeaf(std::vector<Value*>& leaves, Value* v) {
  if (std::find(leaves.begin(), leaves.end(), v) == leaves.end()) leaves.push_back(v);
}

// Group inputs in the group's order: equal graphs get equal rewrites.
void sortByInputPosition(const Node* group, std::vector<Value*>& values) {
  const auto position = [group](Value* x) {
    return std::find(group->inputs().begin(), group->inputs().end(), x) - group->inputs().begin();
  };
  std::sort(values.begin(), values.end(),
            [&position](Value* a, Value* b) { return position(a) < position(b); });
}

// Where group output `v` gets its shape, or nullopt when something else shapes it (a sum,
// a join, a view, chunks of chunks or pieces of two chunks).
c10::optional<ShapeSource> shapeSource(Value* v) {
  Node* group = v->node();
  Graph& subgraph = *group->g(c10::attr::Subgraph);
  ShapeSource source;
  struct Item {
    const Value* value;
    bool in_piece;  // reached through a chunk
  };
  std::vector<Item> stack{{subgraph.outputs()[v->offset()], false}};
  std::unordered_set<const Value*> seen, seen_in_piece;
  while (!stack.empty()) {
    const Item item = stack.back();
    stack.pop_back();
    if (!(item.in_piece ? seen_in_piece : seen).insert(item.value).second) continue;
    const Node* producer = item.value->node();
    if (producer->kind() == c10::prim::Param) {
      Value* outer = group->inputs()[item.value->offset()];
      addLeaf(item.in_piece ? source.chunked_leaves : source.leaves, outer);
      continue;
    }
    if (producer->kind() == c10::prim::ConstantChunk) {
      const c10::optional<ChunkPiece> piece = pieceOf(item.value);
      if (item.in_piece || !piece || (source.piece && !(*source.piece == *piece))) {
        return c10::nullopt;
      }
      source.piece = piece;
      stack.push_back({producer->input(), true});
      continue;
    }
    const FusibleOp* op = findFusibleOp(producer);
    if (!op || isSumToSize(producer) || isJoin(producer)) return c10::nullopt;
    const size_t shaping = op->shape_from_self() ? 1 : producer->inputs().size();
    for (const Value* in : producer->inputs().slice(0, shaping)) {
      if (in->type()->cast<c10::TensorType>()) stack.push_back({in, item.in_piece});
    }
  }
  sortByInputPosition(group, source.leaves);
  sortByInputPosition(group, source.chunked_leaves);
  return source;
}

// The broadcast of `shapes` (int[] values), itself when there is one.
Value* insertBroadcast(Graph& graph, const std::vector<Value*>& shapes) {
  if (shapes.size() == 1) return shapes[0];
  return graph.insertNode(graph.create(c10::prim::BroadcastSizes, shapes))
      ->output()
      ->setType(c10::ListType::ofInts());
}

void appendSizesOf(Graph& graph, const std::vector<Value*>& tensors, std::vector<Value*>& shapes) {
  for (Value* t : tensors) shapes.push_back(graph.insert(c10::aten::size, {t}));
}

// The sizes `source` describes, as size nodes at the insertion point.
Value* insertSizes(Graph& graph, const ShapeSource& source) {
  std::vector<Value*> shapes;
  if (source.piece) {
    std::vector<Value*> chunked;
    appendSizesOf(graph, source.chunked_leaves, chunked);
    Node* chunk_sizes =
        graph.insertNode(graph.create(c10::prim::ChunkSizes, {insertBroadcast(graph, chunked)}, 2));
    chunk_sizes->i_(c10::attr::chunks, source.piece->chunks)->i_(c10::attr::dim, source.piece->dim);
    for (Value* out : chunk_sizes->outputs()) out->setType(c10::ListType::ofInts());
    shapes.push_back(chunk_sizes->outputs()[source.piece->last ? 1 : 0]);
  }
  appendSizesOf(graph, source.leaves, shapes);
  return insertBroadcast(graph, shapes);
}

}  // namespace

bool sizesFromGroupInputs(FusionState& state, torch::jit::Block* block) {
  Graph& graph = state.graph();
  state.rebuildAliasDb();  // groups may have gained outputs (pushed chunks) since
  bool changed = false;
  // Sizes already inserted, per group: equal shapes (an LSTM cell's gate pieces) share one.
  std::vector<std::tuple<const Node*, ShapeSource, Value*>> inserted;
  for (auto it = block->nodes().begin(); it != block->nodes().end();) {
    Node* node = *it++;
    if (node->kind() != c10::aten::size || node->inputs().size() != 1) continue;
    Value* v = node->input();
    Node* group = v->node();
    if (!isGroup(group)) continue;
    // Sizes taken after the group are those of its result only while nothing writes it
    // (z.unsqueeze_(0) before z.size()).
    if (state.aliasDb().hasWriters(v)) continue;
    const c10::optional<ShapeSource> source = shapeSource(v);
    if (!source || (source->leaves.empty() && source->chunked_leaves.empty())) continue;
    if (source->piece && source->chunked_leaves.empty()) continue;
    auto same = std::find_if(inserted.begin(), inserted.end(), [&](const auto& entry) {
      return std::get<0>(entry) == group && std::get<1>(entry) == *source;
    });
    if (same == inserted.end()) {
      // Right after the group: the inputs' sizes when it ran, which an in-place op on an
      // input (x.unsqueeze_(0)) before the aten::size must not change.
      torch::jit::WithInsertPoint guard(group->next());
      inserted.emplace_back(group, *source, insertSizes(graph, *source));
      same = std::prev(inserted.end());
    }
    node->output()->replaceAllUsesWith(std::get<2>(*same));
    node->destroy();
    changed = true;
  }
  if (!changed) return false;
  for (Node* group : allGroups(block)) dropUnreadOutputs(group);
  state.rebuildAliasDb();  // the graph changed under it
  return true;
}

}  // namespace torch_fuser
