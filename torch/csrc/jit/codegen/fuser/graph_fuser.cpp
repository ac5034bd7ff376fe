#include "torch/csrc/jit/codegen/fuser/graph_fuser.h"

#include "torch/csrc/jit/codegen/fuser/compiler.h"
#include "torch/csrc/jit/codegen/fuser/concat_sinking.h"
#include "torch/csrc/jit/codegen/fuser/explain.h"
#include "torch/csrc/jit/codegen/fuser/guards.h"
#include "torch/csrc/jit/codegen/fuser/inference_batch_norm.h"
#include "torch/csrc/jit/codegen/fuser/input_views.h"
#include "torch/csrc/jit/codegen/fuser/lowering.h"
#include "torch/csrc/jit/codegen/fuser/op_table.h"
#include "torch/csrc/jit/codegen/fuser/profile_facts.h"

#include <torch/csrc/jit/ir/alias_analysis.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/jit_log.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/utils/subgraph_utils.h>

#include <algorithm>
#include <map>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace torch_fuser {

using torch::jit::AliasDb;
using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;
namespace SubgraphUtils = torch::jit::SubgraphUtils;

c10::Symbol fusionGroupKind() {
  static const c10::Symbol kind = c10::Symbol::fromQualString("fuser::FusionGroup");
  return kind;
}

namespace {

bool isNumberType(const c10::TypePtr& type) {
  return type->kind() == c10::TypeKind::FloatType || type->kind() == c10::TypeKind::IntType ||
         type->kind() == c10::TypeKind::BoolType || type->kind() == c10::TypeKind::NumberType;
}

class ElementwiseFuser {
 public:
  ElementwiseFuser(std::shared_ptr<Graph> graph, FusionTargets targets)
      : graph_(std::move(graph)), targets_(targets), facts_(*graph_->block()) {}

  void run() {
    // Groups formed from profiles are guarded (see guards.h) when the profiling executor
    // runs the pass (it turns the guards' fallbacks into functions); a graph without
    // profiles (the legacy executor specializes on argument types itself, or a graph
    // built by hand) keeps unguarded groups whose kernels check each call.
    const bool profiled = targets_.guard && !facts_.empty();
    decomposeInferenceBatchNorms(graph_->block(), facts_,
                                 [this](const Value* v) { return whyValueRefused(v).empty(); });
    dropProfilesAroundFusibleNodes(graph_->block());
    dropMultiplicationsByOneBeforeSums(graph_->block());
    sinkOpsBelowConcatenations(graph_->block(), facts_,
                               [this](const Node* node) { return isFusible(node); });
    alias_db_ = std::make_unique<AliasDb>(graph_);
    fuseBlock(graph_->block());
    absorbConcats(graph_->block());
    if (std::min(targets_.min_group_size_cpu, targets_.min_group_size_cuda) <= 1) {
      wrapLoneOps(graph_->block());
    }
    // Only after all merging: unmerging invalidates the alias database.
    finishGroups(graph_->block());
    // Chunks whose pieces all moved into groups are left without readers.
    torch::jit::EliminateDeadCode(graph_);
    if (ExplainRecorder* recorder = ExplainRecorder::active()) recordVerdicts(*recorder);
    if (profiled) guardGroups(graph_->block());
    GRAPH_DUMP("After torch_fuser's elementwise fusion: ", graph_);
  }

 private:
  bool isGroup(const Node* node) const { return node->kind() == fusionGroupKind(); }

  // Why values of this dtype and device (known or profiled) may not be fused, or "": a
  // device switched off by enable() forms no groups for values profiled on it.
  std::string whyValueRefused(const Value* v) const {
    const c10::TensorTypePtr type = facts_.type(v);
    if (!type) return {};
    if (type->scalarType() && !isSupportedInputDtype(*type->scalarType())) {
      return std::string("dtype ") + c10::toString(*type->scalarType()) +
             " is outside the fuser's dtypes";
    }
    const c10::optional<c10::Device> device = facts_.device(v);
    if (!device) return {};  // decided per call; other devices fall back
    if (device->is_cpu()) return targets_.cpu ? "" : "device cpu is disabled (enable(cpu=False))";
    if (device->is_cuda()) {
      if (!targets_.cuda) return "device cuda is disabled (enable(cuda=False))";
      return backendAvailable(c10::DeviceType::CUDA) ? "" : "no CUDA backend in this build";
    }
    return "device " + device->str() + " has no fuser backend";
  }

  bool isFusible(const Node* node) const { return whyNotFusible(node).empty(); }

  // Why `node` cannot be part of a group, or "" when it can.
  std::string whyNotFusible(const Node* node) const {
    if (node->outputs().size() != 1 || !node->output()->type()->cast<c10::TensorType>()) {
      return "not an op with one tensor result";
    }
    if (isSumToSize(node)) return whyNotFusibleSumToSize(node);
    const FusibleOp* op = findFusibleOp(node);
    if (!op) return "not in the op table (this schema)";
    if (op->pattern == LoweringPattern::kTo &&
        node->input(1)->node()->kind() != c10::prim::Constant) {
      return "its dtype is known only at run time (a kernel's dtypes are fixed when generated)";
    }
    if (op->pattern == LoweringPattern::kTo && alias_db_) {
      // to() may return its input itself; a fused one is always a fresh tensor, which
      // only matters when either is written afterwards. (Before alias analysis exists,
      // while profile nodes are dropped, this check is not needed.)
      if (alias_db_->hasWriters(node->input(0)) || alias_db_->hasWriters(node->output())) {
        return "aliasing: its input or result is written, and a fused to() always copies";
      }
    }
    if (op->pattern == LoweringPattern::kRandLike) {
      // Only CUDA kernels generate random numbers (see lowering.h).
      const c10::optional<c10::Device> device = facts_.device(node->input(0));
      if (!device || !device->is_cuda()) return "random numbers are fused on CUDA only";
    }
    for (const Value* input : node->inputs()) {
      const c10::TypePtr& type = input->type();
      if (type->cast<c10::TensorType>()) {
        std::string why = whyValueRefused(input);
        if (!why.empty()) return why;
      } else if (input->node()->kind() != c10::prim::Constant && !isNumberType(type)) {
        // e.g. a non-constant Optional bound of clamp
        return "an argument is neither a tensor, a number nor a constant";
      }
    }
    return whyValueRefused(node->output());
  }

  // _grad_sum_to_size(x, size), autodiff's reduction of a broadcast gradient: fused with
  // a constant size or an int[]? value, read per call (see isSumToSize in lowering.h).
  // Not when x or the result is written: the op may return x itself, a kernel never does.
  std::string whyNotFusibleSumToSize(const Node* node) const {
    const Value* size = node->input(1);
    if (size->node()->kind() != c10::prim::Constant && !isSizeList(size)) {
      return "its size is neither a constant nor an int[]? value";
    }
    if (alias_db_ &&
        (alias_db_->hasWriters(node->input(0)) || alias_db_->hasWriters(node->output()))) {
      return "aliasing: its input or result is written, and a kernel always writes a new tensor";
    }
    std::string why = whyValueRefused(node->input(0));
    return why.empty() ? whyValueRefused(node->output()) : why;
  }

  // False only when both devices are known and differ.
  static bool sameDevice(const Node* a, const Node* b) {
    c10::optional<c10::Device> device;
    for (const Node* node : {a, b}) {
      for (const Value* v : node->outputs()) {
        const auto type = v->type()->cast<c10::TensorType>();
        if (!type || !type->device()) continue;
        if (device && *device != *type->device()) return false;
        device = type->device();
      }
    }
    return true;
  }

  // A list a cat or stack joins: its pieces may move into a kernel (absorbConcat).
  static bool isJoinedList(const Node* node) {
    if (node->kind() != c10::prim::ListConstruct || node->output()->uses().size() != 1) {
      return false;
    }
    const c10::Symbol user = node->output()->uses()[0].user->kind();
    return user == c10::aten::cat || user == c10::aten::stack;
  }

  bool isProfileAdjacentToFusible(const Node* profile) const {
    if (isFusible(profile->input()->node())) return true;
    for (const torch::jit::Use& use : profile->output()->uses()) {
      if (isFusible(use.user) || isJoinedList(use.user)) return true;
    }
    return false;
  }

  void dropProfilesAroundFusibleNodes(Block* block) {
    for (auto it = block->nodes().begin(); it != block->nodes().end();) {
      Node* node = *it++;
      for (Block* sub : node->blocks()) dropProfilesAroundFusibleNodes(sub);
      if (node->kind() == c10::prim::profile && node->inputs().size() == 1 &&
          node->outputs().size() == 1 && isProfileAdjacentToFusible(node)) {
        node->output()->replaceAllUsesWith(node->input());
        node->destroy();
      }
    }
  }

  void fuseBlock(Block* block) {
    for (Node* node : block->nodes()) {
      for (Block* sub : node->blocks()) fuseBlock(sub);
    }
    mergeToFixpoint(block);
    // Autodiff reads the sizes of intermediate values (aten::size for its
    // _size_if_not_equal); computed from the inputs' sizes instead, those values need not
    // leave their group, and a chunk of the group's result can then move into it (the
    // LSTM cell in training: one group, as without grad).
    if (sizesFromGroupInputs(block)) mergeToFixpoint(block);
    // Then chunks of values lone ops compute: every producer had its chance to join a
    // group first, so a chunk is pushed through the whole computation, not its last op.
    push_into_lone_ops_ = true;
    mergeToFixpoint(block);
    push_into_lone_ops_ = false;
  }

  // Autodiff's gradient of add/sub's other operand is (grad * alpha)._grad_sum_to_size(..)
  // with alpha usually 1: that multiplication copies grad only to be summed, and after a
  // join (the LSTM cell's gate gradients) it costs a kernel of its own. x * 1 is x exactly
  // (NaN, infinities, signed zeros) when the dtype stays: x floating, or integral with an
  // integer 1. Only where every reader is a _grad_sum_to_size of it (which reads, never
  // writes or returns it as is unless its size is None, as for grad_self).
  void dropMultiplicationsByOneBeforeSums(Block* block) {
    for (auto it = block->nodes().begin(); it != block->nodes().end();) {
      Node* node = *it++;
      for (Block* sub : node->blocks()) dropMultiplicationsByOneBeforeSums(sub);
      if (node->kind() != c10::aten::mul || node->inputs().size() != 2) continue;
      const c10::optional<c10::IValue> factor = torch::jit::toIValue(node->input(1));
      if (!factor || !(factor->isInt() || factor->isDouble()) ||
          factor->toScalar().toDouble() != 1.0)
        continue;
      const c10::TensorTypePtr type = facts_.type(node->input(0));
      if (!type || !type->scalarType() || *type->scalarType() == c10::kBool) continue;
      if (!c10::isFloatingType(*type->scalarType()) && !factor->isInt()) continue;
      const auto& uses = node->output()->uses();
      const bool only_sums =
          !uses.empty() && std::all_of(uses.begin(), uses.end(), [](const torch::jit::Use& use) {
            return isSumToSize(use.user) && use.offset == 0;
          });
      if (!only_sums) continue;
      node->output()->replaceAllUsesWith(node->input(0));
      node->destroy();
    }
  }

  // Replaces aten::size(v) of a group output v by the broadcast of the sizes of the group
  // inputs v is computed from (elementwise ops broadcast their operands), and drops group
  // outputs nothing reads then. Not for values shaped by chunks, joins, views or sums.
  // Returns whether anything changed.
  bool sizesFromGroupInputs(Block* block) {
    bool changed = false;
    for (auto it = block->nodes().begin(); it != block->nodes().end();) {
      Node* node = *it++;
      if (node->kind() != c10::aten::size || node->inputs().size() != 1) continue;
      Value* v = node->input();
      if (!isGroup(v->node())) continue;
      const c10::optional<std::vector<Value*>> leaves = shapeLeaves(v);
      if (!leaves || leaves->empty()) continue;
      torch::jit::WithInsertPoint guard(node);
      std::vector<Value*> sizes;
      for (Value* leaf : *leaves) {
        sizes.push_back(graph_->insert(c10::aten::size, {leaf}));
      }
      Value* size = sizes.size() == 1
                        ? sizes[0]
                        : graph_->insertNode(graph_->create(c10::prim::BroadcastSizes, sizes))
                              ->output()
                              ->setType(c10::ListType::ofInts());
      node->output()->replaceAllUsesWith(size);
      node->destroy();
      changed = true;
    }
    if (!changed) return false;
    for (Node* group : allGroups(block)) dropUnreadOutputs(group);
    alias_db_ = std::make_unique<AliasDb>(graph_);  // the graph changed under it
    return true;
  }

  // The group inputs (outside values) whose broadcast shape is the shape of group output
  // `v`, or nullopt when something else shapes it.
  c10::optional<std::vector<Value*>> shapeLeaves(Value* v) const {
    Node* group = v->node();
    Graph& subgraph = *group->g(c10::attr::Subgraph);
    std::vector<Value*> leaves;
    std::vector<const Value*> stack{subgraph.outputs()[v->offset()]};
    std::unordered_set<const Value*> seen;
    while (!stack.empty()) {
      const Value* value = stack.back();
      stack.pop_back();
      if (!seen.insert(value).second) continue;
      const Node* producer = value->node();
      if (producer->kind() == c10::prim::Param) {
        Value* outer = group->inputs()[value->offset()];
        if (std::find(leaves.begin(), leaves.end(), outer) == leaves.end()) leaves.push_back(outer);
        continue;
      }
      const FusibleOp* op = findFusibleOp(producer);
      if (!op || isSumToSize(producer) || isJoin(producer)) return c10::nullopt;
      const size_t shaping = op->shape_from_self() ? 1 : producer->inputs().size();
      for (const Value* in : producer->inputs().slice(0, shaping)) {
        if (in->type()->cast<c10::TensorType>()) stack.push_back(in);
      }
    }
    // Inputs in the group's order: equal graphs get equal rewrites.
    std::sort(leaves.begin(), leaves.end(), [group](Value* a, Value* b) {
      const auto position = [group](Value* x) {
        return std::find(group->inputs().begin(), group->inputs().end(), x) -
               group->inputs().begin();
      };
      return position(a) < position(b);
    });
    return leaves;
  }

  static void dropUnreadOutputs(Node* group) {
    Graph& subgraph = *group->g(c10::attr::Subgraph);
    for (size_t i = group->outputs().size(); i-- > 0;) {
      if (!group->outputs()[i]->uses().empty() || group->outputs().size() == 1) continue;
      group->eraseOutput(i);
      subgraph.eraseOutput(i);
    }
    torch::jit::EliminateDeadCode(subgraph.block());
  }

  void mergeToFixpoint(Block* block) {
    bool changed = true;
    while (changed) {
      changed = false;
      for (auto it = block->nodes().rbegin(); it != block->nodes().rend();) {
        bool merged = false;
        std::tie(it, merged) = scanNode(*it, block);
        changed = changed || merged;
      }
    }
  }

  std::pair<torch::jit::graph_node_list_iterator, bool> scanNode(Node* consumer, Block* block) {
    if (Node* group = tryPushChunk(consumer)) return {group->reverseIterator(), true};
    if (isGroup(consumer) || isFusible(consumer)) {
      for (Value* input : producersLastFirst(consumer, block)) {
        if (Node* group = tryMerge(consumer, input->node())) {
          return {group->reverseIterator(), true};
        }
      }
    }
    return {++consumer->reverseIterator(), false};
  }

  // The consumer's inputs produced in `block`, latest producer first, each once.
  static std::vector<Value*> producersLastFirst(Node* consumer, Block* block) {
    std::vector<Value*> inputs;
    for (Value* v : consumer->inputs()) {
      if (v->node()->owningBlock() != block) continue;
      if (std::find(inputs.begin(), inputs.end(), v) == inputs.end()) inputs.push_back(v);
    }
    std::sort(inputs.begin(), inputs.end(),
              [](Value* a, Value* b) { return a->node()->isAfter(b->node()); });
    return inputs;
  }

  // Whether a value the group takes is cut by a pushed chunk inside it (the kernel reads
  // the pieces as views, so its producer must stay outside).
  static bool feedsPushedChunk(Node* group, const Node* producer) {
    Graph& subgraph = *group->g(c10::attr::Subgraph);
    for (size_t i = 0; i < group->inputs().size(); ++i) {
      if (group->inputs()[i]->node() != producer) continue;
      for (const torch::jit::Use& use : subgraph.inputs()[i]->uses()) {
        if (use.user->kind() == c10::prim::ConstantChunk &&
            use.user->hasAttribute(pushedChunkIdAttr())) {
          return true;
        }
      }
    }
    return false;
  }

  // Whether `v` is the result of a _grad_sum_to_size (computed by its node, or inside the
  // group that is its node). Such a reduction stays at an output of its group, where it
  // runs after the kernel; read inside the group, every call that reduces (autodiff
  // keeps the ones that do) would fall back.
  static bool isSumToSizeResult(const Value* v) {
    const Node* node = v->node();
    if (node->kind() == fusionGroupKind()) {
      node = node->g(c10::attr::Subgraph)->outputs()[v->offset()]->node();
    }
    return isSumToSize(node);
  }

  static bool readsSumToSizeOf(const Node* consumer, const Node* producer) {
    for (const Value* v : consumer->inputs()) {
      if (v->node() == producer && isSumToSizeResult(v)) return true;
    }
    return false;
  }

  Node* tryMerge(Node* consumer, Node* producer) {
    if (producer == consumer || producer->owningBlock() != consumer->owningBlock()) return nullptr;
    if (!isGroup(producer) && !isFusible(producer)) return nullptr;
    const char* refusal = nullptr;
    if (isGroup(consumer) && feedsPushedChunk(consumer, producer)) {
      refusal = "its result is cut by a chunk pushed into the consumer's group (read as views)";
    } else if (readsSumToSizeOf(consumer, producer)) {
      refusal = "a _grad_sum_to_size stays at its group's output (it reduces after the kernel)";
    } else if (!sameDevice(producer, consumer)) {
      refusal = "its fusible neighbour is on another device";
    } else if (!alias_db_->moveBeforeTopologicallyValid(producer, consumer)) {
      refusal = "aliasing/mutation: joining its fusible neighbour would move it across a write";
    }
    if (refusal) {
      refused_[producer] = refusal;
      refused_[consumer] = refusal;
      return nullptr;
    }
    refused_.erase(producer);  // both are destroyed or become part of a group
    refused_.erase(consumer);
    Node* group = consumer;
    if (!isGroup(consumer)) {
      group = SubgraphUtils::createSingletonSubgraphAndUpdateAliasing(consumer, fusionGroupKind(),
                                                                      *alias_db_);
    }
    if (isGroup(producer)) renumberPushes(producer, nextPushId(*group->g(c10::attr::Subgraph)));
    GRAPH_UPDATE("Merging ", producer->kind().toQualString(), " into a fusion group");
    SubgraphUtils::mergeNodeIntoSubgraphAndUpdateAliasing(producer, group, *alias_db_);
    return group;
  }

  // Shifts the ids of the pushes in `group` past `first`, so that two groups pushed into
  // separately keep their pushes apart when one merges into the other.
  static void renumberPushes(Node* group, int64_t first) {
    if (first == 0) return;
    for (Node* node : group->g(c10::attr::Subgraph)->nodes()) {
      if (node->hasAttribute(pushedChunkIdAttr())) {
        node->i_(pushedChunkIdAttr(), node->i(pushedChunkIdAttr()) + first);
      }
    }
  }

  // A chunk of a value a fusion group computes (the LSTM cell: the gates are a sum, then
  // split in four) is pushed into the group through the ops computing it: chunk(a + b)
  // piece k = chunk(a)[k] + chunk(b)[k] for elementwise ops, so each piece is computed
  // from views of the group's inputs and the chunk costs neither a copy nor a second
  // kernel. The pieces become group outputs, and their consumers merge as usual.
  // Returns the group when `consumer` was such a chunk.
  Node* tryPushChunk(Node* consumer) {
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
    const char* refusal = nullptr;
    if (!isGroup(group)) {
      // A lone fusible op computing the chunked value (z = x * x; a, b = z.chunk(2)):
      // a group of its own to push into; undone with the rest if the push is refused
      // and it stays below the minimum group size.
      if (!push_into_lone_ops_ || !isFusible(group) || chunked->uses().size() != 1 ||
          group->outputs().size() != 1 || group->owningBlock() != consumer->owningBlock()) {
        return nullptr;
      }
      group = SubgraphUtils::createSingletonSubgraphAndUpdateAliasing(group, fusionGroupKind(),
                                                                      *alias_db_);
      chunked = group->output();
    }
    if (chunked->uses().size() != 1 || group->outputs().size() != 1) {
      refusal =
          "the chunked value is read elsewhere too, or its group computes more (one kernel, "
          "one iteration space)";
    } else {
      refusal = pushChunkIntoGroup(group, chunked, first->chunks, first->dim, pieces);
    }
    if (refusal) {
      refused_[list_producer ? list_producer : consumer] = refusal;
      return nullptr;
    }
    refused_.erase(consumer);  // destroyed below
    if (list_producer) refused_.erase(list_producer);
    // The chunk node(s) are left without readers.
    const size_t out_index = chunked->offset();
    consumer->destroy();
    if (list_producer) list_producer->destroy();
    // The whole value is no longer read: only its pieces are computed.
    group->g(c10::attr::Subgraph)->eraseOutput(out_index);
    group->eraseOutput(out_index);
    torch::jit::EliminateDeadCode(group->g(c10::attr::Subgraph)->block());
    alias_db_ = std::make_unique<AliasDb>(graph_);  // the graph changed under it
    return group;
  }

  // Pushes into one group are numbered from the subgraph itself (not from a map keyed by
  // the group's address), so equal graphs get equal ids.
  static int64_t nextPushId(Graph& subgraph) {
    int64_t next = 0;
    for (const Node* node : subgraph.nodes()) {
      if (node->kind() == c10::prim::ConstantChunk && node->hasAttribute(pushedChunkIdAttr())) {
        next = std::max(next, node->i(pushedChunkIdAttr()) + 1);
      }
    }
    return next;
  }

  // Returns why the chunk cannot be pushed, or null when it was.
  const char* pushChunkIntoGroup(Node* group, Value* chunked, int64_t chunks, int64_t dim,
                                 const std::vector<Value*>& pieces) {
    Graph& subgraph = *group->g(c10::attr::Subgraph);
    const size_t out_index = chunked->offset();
    Value* inner = subgraph.outputs()[out_index];
    // The ops `inner` is computed from, in order; all elementwise, none random or a chunk.
    std::vector<Node*> cone;
    std::vector<Value*> leaves;
    {
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
          return "an op computing the chunked value is not elementwise (or is random, or type_as)";
        }
        cone.push_back(node);
        for (Value* in : node->inputs()) work.push_back(in);
      }
    }
    if (leaves.empty()) return "the chunked value is computed from no tensor input";
    // A dim counted from the left is made relative to the right end, where broadcasting
    // aligns the inputs: that needs the value's rank — its type's, or the largest of its
    // inputs' (types or profiles). Hints only: the executor checks it on every call.
    int64_t rank = 0;
    if (dim >= 0) {
      c10::optional<int64_t> known = facts_.rank(chunked);
      if (!known) {
        for (Value* leaf : leaves) {
          const c10::optional<int64_t> leaf_rank = facts_.rank(group->inputs()[leaf->offset()]);
          if (!leaf_rank) return "unknown rank: no type or profile gives the chunked value's rank";
          known = std::max(known.value_or(0), *leaf_rank);
        }
      }
      if (dim >= *known) return "the chunk's dim is beyond the chunked value's rank";
      rank = *known;
      dim -= rank;
    }
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

  // aten::cat (aten::stack) of values computed elementwise moves into a fusion group as
  // prim::FusedConcat (fuser::FusedStack): the kernel writes each piece straight into its
  // slice of the result (a strided slice when the dim is not the outermost), so the join
  // costs no copy and no kernel of its own.
  void absorbConcats(Block* block) {
    std::vector<Node*> cats;
    for (Node* node : block->nodes()) {
      for (Block* sub : node->blocks()) absorbConcats(sub);
      if (node->kind() == c10::aten::cat || node->kind() == c10::aten::stack) cats.push_back(node);
    }
    for (Node* cat : cats) absorbConcat(cat);
  }

  void absorbConcat(Node* cat) {
    if (cat->inputs().size() != 2) return;
    Node* list = cat->input(0)->node();
    if (list->kind() != c10::prim::ListConstruct || cat->input(0)->uses().size() != 1) return;
    if (list->inputs().size() < 2) return;
    // The dim must be a constant (it is resolved against the rank on every call).
    const c10::optional<c10::IValue> dim = torch::jit::toIValue(cat->input(1));
    if (!dim || !dim->isInt()) return;
    if (!piecesMayShareAShape(list)) return;
    Node* group = groupComputingPieces(list);
    if (!group) return;
    Graph& subgraph = *group->g(c10::attr::Subgraph);
    std::vector<Value*> inner;
    for (Value* piece : list->inputs()) {
      inner.push_back(piece->node() == group ? subgraph.outputs()[piece->offset()]
                                             : subgraphInputFor(group, piece));
    }
    const bool stack = cat->kind() == c10::aten::stack;
    Node* concat = subgraph.create(stack ? fusedStackKind() : c10::prim::FusedConcat, inner, 1);
    concat->i_(c10::attr::dim, dim->toInt());
    concat->output()->setType(c10::TensorType::get());
    subgraph.insertNode(concat);
    subgraph.registerOutput(concat->output());
    Value* result = group->addOutput()->setType(cat->output()->type());
    cat->output()->replaceAllUsesWith(result);
    cat->destroy();
    list->destroy();
    // Pieces read only by the concatenation are not written on their own.
    for (size_t i = group->outputs().size(); i-- > 0;) {
      if (group->outputs()[i]->uses().empty()) {
        subgraph.eraseOutput(i);
        group->eraseOutput(i);
      }
    }
    alias_db_ = std::make_unique<AliasDb>(graph_);
    GRAPH_UPDATE("Moved a concatenation into a fusion group");
  }

  // One kernel writes every piece over one iteration space, so pieces of different
  // shapes would fall back on every call: skip concatenations whose pieces are known (or
  // profiled) to differ. A hint only; the executor checks every call.
  bool piecesMayShareAShape(const Node* list) const {
    c10::optional<std::vector<int64_t>> first;
    for (const Value* piece : list->inputs()) {
      const c10::optional<std::vector<int64_t>> sizes = facts_.sizes(piece);
      if (!sizes) continue;
      if (first && *first != *sizes) return false;
      first = sizes;
    }
    return true;
  }

  // The group the concatenation moves into: the one computing the last piece, with the
  // groups and fusible ops computing the other pieces merged in (siblings, joined
  // because the concatenation reads them all). Pieces computed otherwise, or whose
  // producers cannot move, are read as inputs. Null when no piece is computed
  // elementwise (a plain cat is as fast as a copying kernel) or a piece cannot be read.
  Node* groupComputingPieces(Node* list) {
    Block* block = list->owningBlock();
    std::vector<Node*> producers;  // groups or fusible ops computing pieces, latest first
    for (Value* piece : list->inputs()) {
      Node* node = piece->node();
      if (!piece->type()->cast<c10::TensorType>() || !whyValueRefused(piece).empty())
        return nullptr;
      // The cat reads a piece where it stands; the kernel would read it earlier, before
      // any in-place write in between.
      if (alias_db_->hasWriters(piece)) return nullptr;
      if (node->owningBlock() != block || (!isGroup(node) && !isFusible(node))) continue;
      if (isSumToSizeResult(piece)) continue;  // read as an input (see isSumToSizeResult)
      if (std::find(producers.begin(), producers.end(), node) == producers.end())
        producers.push_back(node);
    }
    if (producers.empty()) return nullptr;
    std::sort(producers.begin(), producers.end(), [](Node* a, Node* b) { return a->isAfter(b); });
    Node* group = producers.front();
    // Pieces read as inputs must exist where the group runs.
    for (Value* piece : list->inputs()) {
      Node* node = piece->node();
      if (node == group || node->owningBlock() != block || node->isBefore(group)) continue;
      if (std::find(producers.begin(), producers.end(), node) != producers.end()) continue;
      if (!alias_db_->moveAfterTopologicallyValid(group, node)) return nullptr;
    }
    if (!isGroup(group)) {
      group = SubgraphUtils::createSingletonSubgraphAndUpdateAliasing(group, fusionGroupKind(),
                                                                      *alias_db_);
    }
    for (size_t p = 1; p < producers.size(); ++p) tryMerge(group, producers[p]);
    return group;
  }

  // Every group in `block` and the blocks nested in it, collected before a rewrite
  // changes the node lists.
  std::vector<Node*> allGroups(Block* block) const {
    std::vector<Node*> groups;
    for (Node* node : block->nodes()) {
      for (Block* sub : node->blocks()) {
        const std::vector<Node*> inner = allGroups(sub);
        groups.insert(groups.end(), inner.begin(), inner.end());
      }
      if (isGroup(node)) groups.push_back(node);
    }
    return groups;
  }

  void guardGroups(Block* block) {
    for (Node* group : allGroups(block)) {
      const Node* owner = group->owningBlock()->owningNode();
      if (owner && owner->kind() == c10::prim::If &&
          owner->input()->node()->kind() == typeGuardKind()) {
        continue;  // guarded by an earlier run of the pass
      }
      std::vector<c10::TensorTypePtr> expected;
      for (const Value* input : group->inputs()) expected.push_back(facts_.type(input));
      guardFusionGroup(group, expected);
    }
  }

  void finishGroups(Block* block) {
    for (Node* group : allGroups(block)) {
      inlineScalarConstants(group);
      if (unmergesIntoStandardOps(*group) &&
          countComputeNodes(group) < static_cast<size_t>(minGroupSize(deviceOf(group)))) {
        Node* before = group->prev();
        Node* after = group->next();
        SubgraphUtils::unmergeSubgraph(group);
        for (Node* n = before->next(); n != after; n = n->next()) lone_.insert(n);
      } else {
        absorbViews(group);
        absorbChunks(group);
      }
    }
  }

  // Whether undoing the group leaves ops the interpreter runs: a join (fuser::FusedConcat /
  // FusedStack) or a pushed chunk only exists inside groups (fallback.cpp rebuilds them).
  static bool unmergesIntoStandardOps(const Node& group) {
    for (const Node* node : group.g(c10::attr::Subgraph)->nodes()) {
      if (isJoin(node) || node->hasAttribute(pushedChunkIdAttr())) return false;
    }
    return true;
  }

  // The device of a group's (or node's) tensors, where a type or profile tells.
  c10::optional<c10::Device> deviceOf(const Node* node) const {
    for (const Value* v : node->inputs()) {
      if (const c10::optional<c10::Device> device = facts_.device(v)) return device;
    }
    return c10::nullopt;
  }

  // The smallest group kept on `device`; on an unknown device, the larger of the two.
  int minGroupSize(const c10::optional<c10::Device>& device) const {
    if (!device) return std::max(targets_.min_group_size_cpu, targets_.min_group_size_cuda);
    return device->is_cuda() ? targets_.min_group_size_cuda : targets_.min_group_size_cpu;
  }

  // With a minimum group size of 1, a fusible op no group took gets a kernel of its own.
  void wrapLoneOps(Block* block) {
    for (auto it = block->nodes().begin(); it != block->nodes().end();) {
      Node* node = *it++;
      for (Block* sub : node->blocks()) wrapLoneOps(sub);
      // A lone _grad_sum_to_size is a reduction, not a kernel's work.
      if (isGroup(node) || isSumToSize(node) || !isFusible(node)) continue;
      if (minGroupSize(deviceOf(node)) > 1) continue;
      SubgraphUtils::createSingletonSubgraphAndUpdateAliasing(node, fusionGroupKind(), *alias_db_);
    }
  }

  // A piece of a tensor split by a chunk with constant arguments: prim::ConstantChunk, or
  // aten::chunk whose list only feeds a prim::ListUnpack.
  struct ChunkPiece {
    Value* self = nullptr;
    int64_t chunks = 0;
    int64_t dim = 0;
    size_t piece = 0;
  };

  static c10::optional<ChunkPiece> chunkPiece(Value* v) {
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

  // Moves chunks of the group's inputs into the group as prim::ConstantChunk nodes, so the
  // kernel reads the pieces as views of the chunked tensor (no copies). The chunk outside
  // stays for any other reader. Skipped when anything may write to the chunked tensor.
  void absorbChunks(Node* group) {
    Graph& subgraph = *group->g(c10::attr::Subgraph);
    std::map<std::tuple<Value*, int64_t, int64_t>, Node*> inner_chunks;
    for (size_t i = group->inputs().size(); i-- > 0;) {
      const c10::optional<ChunkPiece> piece = chunkPiece(group->inputs()[i]);
      if (!piece || !piece->self->type()->cast<c10::TensorType>()) continue;
      if (alias_db_->hasWriters(piece->self)) continue;
      Node*& inner = inner_chunks[std::make_tuple(piece->self, piece->chunks, piece->dim)];
      if (!inner) {
        Value* self_inside = subgraphInputFor(group, piece->self);
        torch::jit::WithInsertPoint guard(subgraph.block()->nodes().front());
        inner = subgraph.insertNode(subgraph.create(c10::prim::ConstantChunk, {self_inside},
                                                    static_cast<size_t>(piece->chunks)));
        inner->i_(c10::attr::chunks, piece->chunks)->i_(c10::attr::dim, piece->dim);
        for (Value* out : inner->outputs()) out->setType(c10::TensorType::get());
      }
      subgraph.inputs()[i]->replaceAllUsesWith(inner->outputs()[piece->piece]);
      subgraph.eraseInput(i);
      group->removeInput(i);
    }
  }

  // Views of values the group takes from outside (input_views.h) move into it, chains
  // included, so a view costs no op of its own (b * d.unsqueeze(1)); the view outside
  // stays for any other reader. Not views of chunk pieces (the kernel cuts pieces of
  // inputs only), of values something writes to, or cut by a chunk inside.
  void absorbViews(Node* group) {
    Graph& subgraph = *group->g(c10::attr::Subgraph);
    bool changed = true;
    while (changed) {
      changed = false;
      for (size_t i = group->inputs().size(); i-- > 0;) {
        Node* view = group->inputs()[i]->node();
        if (view->owningBlock() != group->owningBlock() || !isInputView(view)) continue;
        Value* source = view->input(0);
        if (chunkPiece(source) || alias_db_->hasWriters(source) ||
            isChunked(subgraph.inputs()[i])) {
          continue;
        }
        Value* source_inside = subgraphInputFor(group, source);
        torch::jit::WithInsertPoint guard(subgraph.block()->nodes().front());
        Node* inner = subgraph.createClone(view, [&](Value* v) -> Value* {
          if (v == source) return source_inside;
          Node* constant = subgraph.createClone(v->node(), [](Value*) -> Value* {
            TORCH_INTERNAL_ASSERT(false, "a constant has no inputs");
          });
          return subgraph.insertNode(constant)->output();
        });
        subgraph.insertNode(inner);
        subgraph.inputs()[i]->replaceAllUsesWith(inner->output());
        subgraph.eraseInput(i);
        group->removeInput(i);
        changed = true;
      }
    }
  }

  // Whether a chunk inside the group cuts `v` (the kernel cuts pieces of inputs only).
  static bool isChunked(const Value* v) {
    return std::any_of(v->uses().begin(), v->uses().end(), [](const torch::jit::Use& use) {
      return use.user->kind() == c10::prim::ConstantChunk;
    });
  }

  // The subgraph input bound to `outer`, added when the group does not take it yet.
  static Value* subgraphInputFor(Node* group, Value* outer) {
    Graph& subgraph = *group->g(c10::attr::Subgraph);
    for (size_t i = 0; i < group->inputs().size(); ++i) {
      if (group->inputs()[i] == outer) return subgraph.inputs()[i];
    }
    group->addInput(outer);
    return subgraph.addInput()->setType(outer->type());
  }

  // Scalar constants become literals inside the kernel instead of group inputs.
  static void inlineScalarConstants(Node* group) {
    Graph& subgraph = *group->g(c10::attr::Subgraph);
    for (size_t i = group->inputs().size(); i-- > 0;) {
      Value* outer = group->inputs()[i];
      Node* constant = outer->node();
      if (constant->kind() != c10::prim::Constant || outer->type()->cast<c10::TensorType>()) {
        continue;
      }
      torch::jit::WithInsertPoint guard(subgraph.block()->nodes().front());
      Node* inner = subgraph.createClone(constant, [](Value*) -> Value* {
        TORCH_INTERNAL_ASSERT(false, "a constant has no inputs");
      });
      subgraph.insertNode(inner);
      subgraph.inputs()[i]->replaceAllUsesWith(inner->output());
      subgraph.eraseInput(i);
      group->removeInput(i);
    }
  }

  static size_t countComputeNodes(const Node* group) {
    size_t count = 0;
    for (const Node* node : group->g(c10::attr::Subgraph)->nodes()) {
      if (node->kind() != c10::prim::Constant) ++count;
    }
    return count;
  }

  // For explain(): what the pass did with each node of the graph (see explain.h).
  void recordVerdicts(ExplainRecorder& recorder) const {
    ExplainRecorder::GraphVerdicts verdicts;
    recordBlock(graph_->block(), verdicts);
    recorder.addGraph(std::move(verdicts));
  }

  void recordBlock(Block* block, ExplainRecorder::GraphVerdicts& verdicts) const {
    for (Node* node : block->nodes()) {
      for (Block* sub : node->blocks()) recordBlock(sub, verdicts);
      if (isGroup(node)) {
        const std::shared_ptr<Graph>& subgraph = node->g(c10::attr::Subgraph);
        const auto index = static_cast<int64_t>(verdicts.groups.size());
        verdicts.groups.push_back(subgraph->copy());
        for (const Node* inner : subgraph->nodes()) {
          if (ExplainRecorder::isReported(inner)) {
            verdicts.nodes.push_back(ExplainRecorder::describe(*inner, index, "", nullptr));
          }
        }
      } else if (ExplainRecorder::isReported(node)) {
        const c10::TensorTypePtr type =
            node->outputs().empty() ? nullptr : facts_.type(node->output(0));
        verdicts.nodes.push_back(ExplainRecorder::describe(*node, -1, whyLeftOut(node), type));
      }
    }
  }

  // Why a node outside every group stayed out, from what the pass decided about it.
  std::string whyLeftOut(Node* node) const {
    if (lone_.count(node))
      return "below the minimum group size (2 ops): a lone op is left to eager";
    const auto refused = refused_.find(node);
    if (refused != refused_.end()) return refused->second;
    std::string why = whyNotFusible(node);
    if (!why.empty()) return why;
    for (const Value* input : node->inputs()) {
      const Node* producer = input->node();
      if (producer->owningBlock() != node->owningBlock() &&
          (isGroup(producer) || isFusible(producer))) {
        return "its fusible neighbours are in another block (groups never cross an if/loop)";
      }
    }
    return "no fusible op next to it in its block, and a lone op is below the minimum group "
           "size (" +
           std::to_string(minGroupSize(deviceOf(node))) + "; set_min_group_size)";
  }

  std::shared_ptr<Graph> graph_;
  FusionTargets targets_;
  ProfileFacts facts_;
  std::unique_ptr<AliasDb> alias_db_;
  bool push_into_lone_ops_ = false;  // see fuseBlock
  // For explain(): nodes a group of one was undone into, and merges refused, with why.
  std::unordered_set<const Node*> lone_;
  std::unordered_map<const Node*, const char*> refused_;
};

}  // namespace

void fuseElementwise(const std::shared_ptr<Graph>& graph, FusionTargets targets) {
  GRAPH_DUMP("Before torch_fuser's elementwise fusion: ", graph);
  ElementwiseFuser(graph, targets).run();
}

}  // namespace torch_fuser
