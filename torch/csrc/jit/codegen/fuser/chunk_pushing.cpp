#include "torch/csrc/jit/codegen/fuser/chunk_pushing.h"

#include "torch/csrc/jit/codegen/fuser/fusion_state.h"
#include "torch/csrc/jit/codegen/fuser/lowering.h"
#include "torch/csrc/jit/codegen/fuser/op_table.h"

#include <torch/csrc/jit/ir/alias_analysis.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/jit_log.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/utils/subgraph_utils.h>

#include <algorithm>
#include <unordered_map>
#include <vector>

namespace torch_fuser {
namespace {

using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;
namespace SubgraphUtils = torch::jit::SubgraphUtils;

// The ops `inner` (a subgraph value) is computed from, and the subgraph inputs they read;
// false when one of them is not elementwise, random or type_as.
bool collectCone(Value* inner, std::vector<Node*>& cone, std::vector<Value*>& leaves) {
  std::vector<Value*> work = {inner};
  std::unordered_map<const Node*, bool> seen;
  while (!work.empty()) {
    Value* v = work.back();
    work.pop_back();
    Node* node = v->node();
    if (node->kind() == c10::prim::Param) {
      if (v->type()->cast<c10::TensorType>() &&
          std::find(leaves.begin(), leaves.end(), v) == leaves.end()) {
        leaves.push_back(v);
      }
      continue;
    }
    if (node->kind() == c10::prim::Constant || seen[node]) continue;
    seen[node] = true;
    const FusibleOp* op = findFusibleOp(node);
    // type_as reads only the dtype of its second tensor, which must not be chunked;
    // random numbers are drawn per element index, which pieces would change.
    if (!op || op->pattern == LoweringPattern::kRandLike ||
        op->pattern == LoweringPattern::kTypeAs) {
      return false;
    }
    cone.push_back(node);
    for (Value* in : node->inputs()) work.push_back(in);
  }
  return true;
}

// A dim counted from the left is made relative to the right end, where broadcasting
// aligns the inputs: that needs the value's rank — its type's, or the largest of its
// inputs' (types or profiles). Hints only: the executor checks it on every call. Returns
// why it cannot, or null; `rank` is 0 for a dim counted from the right.
const char* rankOfChunkedValue(const FusionState& state, Node* group, Value* chunked,
                               const std::vector<Value*>& leaves, int64_t& dim, int64_t& rank) {
  rank = 0;
  if (dim < 0) return nullptr;
  c10::optional<int64_t> known = state.facts().rank(chunked);
  if (!known) {
    for (Value* leaf : leaves) {
      const c10::optional<int64_t> leaf_rank = state.facts().rank(group->inputs()[leaf->offset()]);
      if (!leaf_rank) return "unknown rank: no type or profile gives the chunked value's rank";
      known = std::max(known.value_or(0), *leaf_rank);
    }
  }
  if (dim >= *known) return "the chunk's dim is beyond the chunked value's rank";
  rank = *known;
  dim -= rank;
  return nullptr;
}

// Returns why the chunk cannot be pushed, or null when it was.
const char* pushChunkIntoGroup(const FusionState& state, Node* group, Value* chunked,
                               int64_t chunks, int64_t dim, const std::vector<Value*>& pieces) {
  Graph& subgraph = *group->g(c10::attr::Subgraph);
  Value* inner = subgraph.outputs()[chunked->offset()];
  std::vector<Node*> cone;
  std::vector<Value*> leaves;
  if (!collectCone(inner, cone, leaves)) {
    return "an op computing the chunked value is not elementwise (or is random, or type_as)";
  }
  if (leaves.empty()) return "the chunked value is computed from no tensor input";
  int64_t rank = 0;
  if (const char* why = rankOfChunkedValue(state, group, chunked, leaves, dim, rank)) return why;
  std::sort(cone.begin(), cone.end(), [](Node* a, Node* b) { return b->isAfter(a); });
  std::sort(leaves.begin(), leaves.end(),
            [](Value* a, Value* b) { return a->offset() < b->offset(); });

  // One chunk per input the value is computed from, all tagged with this push.
  const int64_t push = nextPushId(subgraph);
  std::unordered_map<Value*, Node*> leaf_chunks;
  {
    torch::jit::WithInsertPoint guard(subgraph.block()->nodes().front());
    for (Value* leaf : leaves) {
      Node* chunk = subgraph.insertNode(
          subgraph.create(c10::prim::ConstantChunk, {leaf}, static_cast<size_t>(chunks)));
      chunk->i_(c10::attr::chunks, chunks)->i_(c10::attr::dim, dim);
      chunk->i_(pushedChunkIdAttr(), push)->i_(pushedChunkRankAttr(), rank);
      for (Value* out : chunk->outputs()) out->setType(c10::TensorType::get());
      leaf_chunks[leaf] = chunk;
    }
  }
  // The cone once per piece, reading the pieces of the inputs.
  for (size_t k = 0; k < pieces.size(); ++k) {
    std::unordered_map<Value*, Value*> env;
    for (Value* leaf : leaves) env[leaf] = leaf_chunks[leaf]->outputs()[k];
    torch::jit::WithInsertPoint guard(subgraph.block()->return_node());
    for (Node* node : cone) {
      Node* clone = subgraph.insertNode(subgraph.createClone(node, [&env](Value* v) {
        auto it = env.find(v);
        return it == env.end() ? v : it->second;
      }));
      for (size_t o = 0; o < node->outputs().size(); ++o)
        env[node->outputs()[o]] = clone->outputs()[o];
    }
    Value* piece = env.at(inner);
    if (piece->node()->kind() != c10::prim::ConstantChunk) {
      piece->node()->i_(pushedChunkIdAttr(), push)->i_(pushedPieceAttr(), k);
    }
    subgraph.registerOutput(piece);
    Value* outer = group->addOutput()->setType(pieces[k]->type());
    pieces[k]->replaceAllUsesWith(outer);
  }
  GRAPH_UPDATE("Pushed a chunk of ", chunks, " into a fusion group");
  return nullptr;
}

}  // namespace

c10::optional<ChunkPiece> chunkPiece(Value* v) {
  Node* node = v->node();
  if (node->kind() == c10::prim::ConstantChunk) {
    return ChunkPiece{node->input(), node->i(c10::attr::chunks), node->i(c10::attr::dim),
                      v->offset()};
  }
  if (node->kind() != c10::prim::ListUnpack) return c10::nullopt;
  Node* chunk = node->input()->node();
  if (chunk->kind() != c10::aten::chunk || node->input()->uses().size() != 1) return c10::nullopt;
  const c10::optional<c10::IValue> chunks = torch::jit::toIValue(chunk->input(1));
  const c10::optional<c10::IValue> dim = torch::jit::toIValue(chunk->input(2));
  if (!chunks || !dim || !chunks->isInt() || !dim->isInt()) return c10::nullopt;
  if (chunks->toInt() != static_cast<int64_t>(node->outputs().size())) return c10::nullopt;
  return ChunkPiece{chunk->input(0), chunks->toInt(), dim->toInt(), v->offset()};
}

Node* tryPushChunk(FusionState& state, Node* consumer, bool into_lone_ops) {
  if (consumer->kind() != c10::prim::ConstantChunk &&
      (consumer->kind() != c10::prim::ListUnpack || consumer->outputs().empty())) {
    return nullptr;
  }
  const c10::optional<ChunkPiece> first = chunkPiece(consumer->output(0));
  if (!first) return nullptr;
  const std::vector<Value*> pieces(consumer->outputs().begin(), consumer->outputs().end());
  Value* chunked = first->self;
  Node* group = chunked->node();
  // Only a group computing nothing but the chunked value: its pieces have another
  // shape than the value, and one kernel has one iteration space.
  Node* list_producer =
      consumer->kind() == c10::prim::ListUnpack ? consumer->input()->node() : nullptr;
  if (!isGroup(group)) {
    // A lone fusible op computing the chunked value: a group of its own to push into;
    // undone with the rest if the push is refused and it stays below the minimum size.
    if (!into_lone_ops || !state.isFusible(group) || chunked->uses().size() != 1 ||
        group->outputs().size() != 1 || group->owningBlock() != consumer->owningBlock()) {
      return nullptr;
    }
    group = SubgraphUtils::createSingletonSubgraphAndUpdateAliasing(group, fusionGroupKind(),
                                                                    state.aliasDb());
    chunked = group->output();
  }
  const char* refusal =
      chunked->uses().size() != 1 || group->outputs().size() != 1
          ? "the chunked value is read elsewhere too, or its group computes more (one kernel, "
            "one iteration space)"
          : pushChunkIntoGroup(state, group, chunked, first->chunks, first->dim, pieces);
  if (refusal) {
    state.refuse(list_producer ? list_producer : consumer, refusal);
    return nullptr;
  }
  state.forgetRefusal(consumer);  // destroyed below
  if (list_producer) state.forgetRefusal(list_producer);
  // The chunk node(s) are left without readers.
  const size_t out_index = chunked->offset();
  consumer->destroy();
  if (list_producer) list_producer->destroy();
  // The whole value is no longer read: only its pieces are computed.
  group->g(c10::attr::Subgraph)->eraseOutput(out_index);
  group->eraseOutput(out_index);
  torch::jit::EliminateDeadCode(group->g(c10::attr::Subgraph)->block());
  state.rebuildAliasDb();  // the graph changed under it
  return group;
}

int64_t nextPushId(const Graph& subgraph) {
  int64_t next = 0;
  for (const Node* node : subgraph.nodes()) {
    if (node->kind() == c10::prim::ConstantChunk && node->hasAttribute(pushedChunkIdAttr())) {
      next = std::max(next, node->i(pushedChunkIdAttr()) + 1);
    }
  }
  return next;
}

void renumberPushes(Node* group, int64_t first) {
  if (first == 0) return;
  for (Node* node : group->g(c10::attr::Subgraph)->nodes()) {
    if (node->hasAttribute(pushedChunkIdAttr())) {
      node->i_(pushedChunkIdAttr(), node->i(pushedChunkIdAttr()) + first);
    }
  }
}

}  // namespace torch_fuser
