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

// The ops `roots` (subgraph values) are computed from, and the subgraph inputs they read;
// false when one of them is not elementwise, random or type_as.
bool collectCone(const std::vector<Value*>& roots, std::vector<Node*>& cone,
                 std::vector<Value*>& leaves) {
  std::vector<Value*> work = roots;
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

// The broadcast shape of the group inputs bound to `leaves` (subgraph inputs), when
// types or profiles give all their sizes.
c10::optional<std::vector<int64_t>> knownShape(const FusionState& state, const Node* group,
                                               const std::vector<Value*>& leaves) {
  std::vector<const Value*> outer;
  for (const Value* leaf : leaves) outer.push_back(group->inputs()[leaf->offset()]);
  return state.knownBroadcast(outer);
}

// Whether a value the group returns whole, computed from `leaves`, spans the iteration
// space of the push (the broadcast of `all_leaves`): the same inputs, or known shapes
// that broadcast alike. Otherwise its pieces would be smaller than the kernel's space and
// every call would fall back.
bool spansPush(const FusionState& state, const Node* group, const std::vector<Value*>& leaves,
               const std::vector<Value*>& all_leaves) {
  if (leaves.size() == all_leaves.size()) return true;  // leaves is a subset of all_leaves
  const c10::optional<std::vector<int64_t>> mine = knownShape(state, group, leaves);
  return mine && mine == knownShape(state, group, all_leaves);
}

// Returns why the chunk cannot be pushed, or null when it was. `whole` lists the subgraph
// outputs the group still returns whole (besides the chunk's pieces): each is computed
// piece by piece too and written by a join of its pieces.
const char* pushChunkIntoGroup(const FusionState& state, Node* group, Value* chunked,
                               const std::vector<size_t>& whole, int64_t chunks, int64_t dim,
                               const std::vector<Value*>& pieces) {
  Graph& subgraph = *group->g(c10::attr::Subgraph);
  Value* inner = subgraph.outputs()[chunked->offset()];
  std::vector<Value*> roots = {inner};
  for (size_t j : whole) roots.push_back(subgraph.outputs()[j]);
  std::vector<Node*> cone;
  std::vector<Value*> leaves;
  if (!collectCone(roots, cone, leaves)) {
    return "an op computing the chunked value or another result of its group is not "
           "elementwise (or is random, or type_as)";
  }
  if (leaves.empty()) return "the chunked value is computed from no tensor input";
  for (size_t r = 1; r < roots.size(); ++r) {
    std::vector<Node*> own_cone;
    std::vector<Value*> own_leaves;
    collectCone({roots[r]}, own_cone, own_leaves);
    if (!spansPush(state, group, own_leaves, leaves)) {
      return "another result of the chunked value's group may have a smaller shape than its "
             "pieces (one kernel, one iteration space)";
    }
  }
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
  std::vector<std::unordered_map<Value*, Value*>> envs(pieces.size());
  for (size_t k = 0; k < pieces.size(); ++k) {
    std::unordered_map<Value*, Value*>& env = envs[k];
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
  // Values returned whole: a join of their pieces along the chunk's dim.
  for (size_t r = 1; r < roots.size(); ++r) {
    std::vector<Value*> parts;
    for (auto& env : envs) {
      auto it = env.find(roots[r]);
      parts.push_back(it == env.end() ? roots[r] : it->second);
    }
    torch::jit::WithInsertPoint guard(subgraph.block()->return_node());
    Node* join = subgraph.insertNode(subgraph.create(c10::prim::FusedConcat, parts, 1));
    join->i_(c10::attr::dim, dim)->i_(pushedChunkIdAttr(), push)->i_(pushedWholeAttr(), 1);
    join->output()->setType(c10::TensorType::get());
    subgraph.block()->replaceOutput(whole[r - 1], join->output());
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

Node* tryPushChunk(FusionState& state, Node* consumer, PushOptions options) {
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
    if (!options.into_lone_ops || !state.isFusible(group) || chunked->uses().size() != 1 ||
        group->outputs().size() != 1 || group->owningBlock() != consumer->owningBlock()) {
      return nullptr;
    }
    group = SubgraphUtils::createSingletonSubgraphAndUpdateAliasing(group, fusionGroupKind(),
                                                                    state.aliasDb());
    chunked = group->output();
  }
  // The group's other results, and the chunked value where something else reads it too,
  // stay whole: joins of their pieces.
  const size_t out_index = chunked->offset();
  const bool read_elsewhere = chunked->uses().size() != 1;
  if (!options.keep_other_results && (read_elsewhere || group->outputs().size() != 1)) {
    state.refuse(list_producer ? list_producer : consumer,
                 "the chunked value is read elsewhere too, or its group computes more (not "
                 "yet: after autodiff's sizes are computed from the group's inputs)");
    return nullptr;
  }
  std::vector<size_t> whole;
  for (size_t j = 0; j < group->outputs().size(); ++j) {
    if (j != out_index || read_elsewhere) whole.push_back(j);
  }
  if (const char* refusal =
          pushChunkIntoGroup(state, group, chunked, whole, first->chunks, first->dim, pieces)) {
    state.refuse(list_producer ? list_producer : consumer, refusal);
    return nullptr;
  }
  state.forgetRefusal(consumer);  // destroyed below
  if (list_producer) state.forgetRefusal(list_producer);
  // The chunk node(s) are left without readers.
  consumer->destroy();
  if (list_producer) list_producer->destroy();
  // Read only through the chunk, the whole value is no longer written.
  if (!read_elsewhere) {
    group->g(c10::attr::Subgraph)->eraseOutput(out_index);
    group->eraseOutput(out_index);
  }
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
