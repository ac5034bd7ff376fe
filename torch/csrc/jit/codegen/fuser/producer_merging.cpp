#include "torch/csrc/jit/codegen/fuser/producer_merging.h"

#include "torch/csrc/jit/codegen/fuser/chunk_pushing.h"
#include "torch/csrc/jit/codegen/fuser/fusion_state.h"
#include "torch/csrc/jit/codegen/fuser/lowering.h"
#include "torch/csrc/jit/codegen/fuser/sizes_from_inputs.h"

#include <torch/csrc/jit/ir/alias_analysis.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/jit_log.h>
#include <torch/csrc/jit/passes/utils/subgraph_utils.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace torch_fuser {
namespace {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;
namespace SubgraphUtils = torch::jit::SubgraphUtils;

// The consumer's inputs produced in `block`, latest producer first, each once.
std::vector<Value*> producersLastFirst(Node* consumer, Block* block) {
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
bool feedsPushedChunk(Node* group, const Node* producer) {
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

bool readsSumToSizeOf(const Node* consumer, const Node* producer) {
  for (const Value* v : consumer->inputs()) {
    if (v->node() == producer && isSumToSizeResult(v)) return true;
  }
  return false;
}

// Why `producer` cannot merge into `consumer`, or null; when it can, `producer` has been
// moved right before `consumer`.
const char* whyNotMerged(FusionState& state, Node* consumer, Node* producer) {
  if (isGroup(consumer) && feedsPushedChunk(consumer, producer)) {
    return "its result is cut by a chunk pushed into the consumer's group (read as views)";
  }
  if (readsSumToSizeOf(consumer, producer)) {
    return "a _grad_sum_to_size stays at its group's output (it reduces after the kernel)";
  }
  if (!sameDevice(producer, consumer)) return "its fusible neighbour is on another device";
  if (!state.aliasDb().moveBeforeTopologicallyValid(producer, consumer)) {
    return "aliasing/mutation: joining its fusible neighbour would move it across a write";
  }
  return nullptr;
}

class ProducerMerger {
 public:
  explicit ProducerMerger(FusionState& state) : state_(state) {}

  void run(Block* block) {
    for (Node* node : block->nodes()) {
      for (Block* sub : node->blocks()) run(sub);
    }
    mergeToFixpoint(block);
    sizesFromGroupInputs(state_, block);
    // Then chunks of values read elsewhere too or of groups computing more: the results
    // autodiff only took sizes of are gone (see PushOptions).
    push_.keep_other_results = true;
    mergeToFixpoint(block);
    // Then chunks of values lone ops compute: every producer had its chance to join a
    // group first, so a chunk is pushed through the whole computation, not its last op.
    push_.into_lone_ops = true;
    mergeToFixpoint(block);
    push_ = PushOptions();
    // Pieces of pushed chunks are group outputs now; those autodiff only takes sizes of
    // are dropped too.
    sizesFromGroupInputs(state_, block);
  }

 private:
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
    if (Node* group = tryPushChunk(state_, consumer, push_)) {
      return {group->reverseIterator(), true};
    }
    if (isGroup(consumer) || state_.isFusible(consumer)) {
      for (Value* input : producersLastFirst(consumer, block)) {
        if (Node* group = tryMerge(state_, consumer, input->node())) {
          return {group->reverseIterator(), true};
        }
      }
    }
    return {++consumer->reverseIterator(), false};
  }

  FusionState& state_;
  PushOptions push_;  // see run()
};

}  // namespace

Node* tryMerge(FusionState& state, Node* consumer, Node* producer) {
  if (producer == consumer || producer->owningBlock() != consumer->owningBlock()) return nullptr;
  if (!isGroup(producer) && !state.isFusible(producer)) return nullptr;
  if (const char* refusal = whyNotMerged(state, consumer, producer)) {
    state.refuse(producer, refusal);
    state.refuse(consumer, refusal);
    return nullptr;
  }
  state.forgetRefusal(producer);  // both are destroyed or become part of a group
  state.forgetRefusal(consumer);
  Node* group = consumer;
  if (!isGroup(consumer)) {
    group = SubgraphUtils::createSingletonSubgraphAndUpdateAliasing(consumer, fusionGroupKind(),
                                                                    state.aliasDb());
  }
  if (isGroup(producer)) renumberPushes(producer, nextPushId(*group->g(c10::attr::Subgraph)));
  GRAPH_UPDATE("Merging ", producer->kind().toQualString(), " into a fusion group");
  SubgraphUtils::mergeNodeIntoSubgraphAndUpdateAliasing(producer, group, state.aliasDb());
  return group;
}

void mergeProducers(FusionState& state, Block* block) {
  ProducerMerger(state).run(block);
}

}  // namespace torch_fuser
