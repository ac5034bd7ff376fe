#include "torch/csrc/jit/codegen/fuser/size_bookkeeping.h"

#include <ATen/ExpandUtils.h>
#include <c10/util/SmallVector.h>
#include <torch/csrc/jit/ir/alias_analysis.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/jit_log.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace torch_fuser {
namespace {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

bool isSizeOfTensor(const Node* node) {
  return node->kind() == c10::aten::size && node->inputs().size() == 1 &&
         node->input()->type()->cast<c10::TensorType>();
}

bool isSizeArithmetic(const Node* node) {
  return (node->kind() == c10::prim::BroadcastSizes && !node->inputs().empty()) ||
         (node->kind() == c10::aten::_size_if_not_equal && node->inputs().size() == 2) ||
         (node->kind() == c10::prim::ChunkSizes && node->inputs().size() == 1 &&
          node->outputs().size() == 2);
}

// Whether something other than `members` and the block's return reads an output of `node`.
bool readElsewhere(const Node* node, const Block* block,
                   const std::unordered_set<const Node*>& members) {
  for (const Value* out : node->outputs()) {
    for (const torch::jit::Use& use : out->uses()) {
      if (use.user != block->return_node() && !members.count(use.user)) return true;
    }
  }
  return false;
}

// The size nodes of `block` that can move into one node before its return: sizes of
// tensors nothing writes, and arithmetic on such sizes, whose results only members and
// the return read.
std::vector<Node*> gatherable(Block* block, const torch::jit::AliasDb& alias_db) {
  std::unordered_set<const Node*> members;
  for (Node* node : block->nodes()) {
    if (isSizeOfTensor(node) && !alias_db.hasWriters(node->input())) {
      members.insert(node);
    } else if (isSizeArithmetic(node) &&
               std::all_of(node->inputs().begin(), node->inputs().end(),
                           [&](const Value* v) { return members.count(v->node()) > 0; })) {
      members.insert(node);
    }
  }
  // Drop members read elsewhere, and what reads them, until nothing changes.
  bool changed = true;
  while (changed) {
    changed = false;
    for (Node* node : block->nodes()) {
      if (!members.count(node)) continue;
      const bool read_elsewhere = readElsewhere(node, block, members);
      const bool reads_dropped =
          isSizeArithmetic(node) &&
          std::any_of(node->inputs().begin(), node->inputs().end(),
                      [&](const Value* v) { return members.count(v->node()) == 0; });
      if (read_elsewhere || reads_dropped) {
        members.erase(node);
        changed = true;
      }
    }
  }
  std::vector<Node*> ordered;
  for (Node* node : block->nodes()) {
    if (members.count(node)) ordered.push_back(node);
  }
  return ordered;
}

int gatherInBlock(Block* block, const torch::jit::AliasDb& alias_db) {
  int taken = 0;
  for (Node* node : block->nodes()) {
    for (Block* sub : node->blocks()) taken += gatherInBlock(sub, alias_db);
  }
  const std::vector<Node*> nodes = gatherable(block, alias_db);
  // One or two nodes cost what the gathering node costs.
  if (nodes.size() < 3) return taken;
  Graph& graph = *block->owningGraph();
  auto subgraph = std::make_shared<Graph>();
  std::unordered_map<const Value*, Value*> inner;  // outer value -> subgraph value
  std::vector<Value*> tensors;
  for (Node* node : nodes) {
    for (Value* in : node->inputs()) {
      if (inner.count(in)) continue;
      inner[in] = subgraph->addInput()->setType(in->type());
      tensors.push_back(in);
    }
    Node* clone = subgraph->createClone(node, [&](Value* v) { return inner.at(v); });
    subgraph->appendNode(clone);
    for (size_t o = 0; o < node->outputs().size(); ++o) {
      inner[node->outputs()[o]] = clone->outputs()[o];
    }
  }
  Node* sizes = graph.create(sizesKind(), tensors, 0);
  sizes->g_(c10::attr::Subgraph, subgraph);
  sizes->insertBefore(block->return_node());
  for (Node* node : nodes) {
    for (Value* value : node->outputs()) {
      const bool returned =
          std::any_of(value->uses().begin(), value->uses().end(),
                      [&](const torch::jit::Use& use) { return use.user == block->return_node(); });
      if (!returned) continue;
      subgraph->registerOutput(inner.at(value));
      value->replaceAllUsesWith(sizes->addOutput()->setType(value->type()));
    }
  }
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) (*it)->destroy();
  GRAPH_UPDATE("Gathered ", nodes.size(), " size nodes into a fuser::Sizes node");
  return taken + static_cast<int>(nodes.size());
}

// One step of a fuser::Sizes program: a value slot computed from tensor inputs or slots.
struct SizeStep {
  enum class Kind : uint8_t { kSizeOf, kBroadcast, kIfNotEqual, kChunkPiece, kLastChunkPiece } kind;
  c10::SmallVector<int, 4> args;  // kSizeOf: a tensor input; otherwise slots
  int64_t chunks = 0;             // the chunk steps: prim::ChunkSizes' attributes
  int64_t dim = 0;
};

using Sizes = c10::SmallVector<int64_t, 6>;

// The sizes of a piece of a chunk of a tensor of sizes `whole`, as torch.chunk cuts it:
// pieces of ceil(n / chunks) along the dim, the last one what remains.
Sizes chunkPiece(const Sizes& whole, int64_t chunks, int64_t dim, bool last) {
  const int64_t rank = static_cast<int64_t>(whole.size());
  const int64_t d = dim < 0 ? dim + rank : dim;
  TORCH_CHECK(d >= 0 && d < rank, "chunk: dim ", dim, " is out of range for sizes of rank ", rank);
  TORCH_CHECK(chunks > 0, "chunk: expected a positive number of chunks, found ", chunks);
  Sizes piece = whole;
  const int64_t n = whole[d];
  const int64_t split = (n + chunks - 1) / chunks;
  piece[d] = split;
  if (last && split > 0 && n % chunks != 0) piece[d] = n - split * ((n + split - 1) / split - 1);
  return piece;
}

}  // namespace

c10::Symbol sizesKind() {
  static const c10::Symbol kind = c10::Symbol::fromQualString("fuser::Sizes");
  return kind;
}

int gatherSizeBookkeeping(Block* block, const torch::jit::AliasDb& alias_db) {
  return gatherInBlock(block, alias_db);
}

torch::jit::Operation createSizesOperation(const Node* node) {
  const Graph& subgraph = *node->g(c10::attr::Subgraph);
  std::unordered_map<const Value*, int> slot;  // value -> tensor input (params) or slot
  for (size_t i = 0; i < subgraph.inputs().size(); ++i) {
    slot[subgraph.inputs()[i]] = static_cast<int>(i);
  }
  std::vector<SizeStep> steps;
  for (const Node* inner : subgraph.nodes()) {
    SizeStep step{SizeStep::Kind::kSizeOf, {}};
    if (inner->kind() == c10::prim::BroadcastSizes) step.kind = SizeStep::Kind::kBroadcast;
    if (inner->kind() == c10::aten::_size_if_not_equal) step.kind = SizeStep::Kind::kIfNotEqual;
    for (const Value* in : inner->inputs()) step.args.push_back(slot.at(in));
    if (inner->kind() == c10::prim::ChunkSizes) {
      // Two results: the size of every piece but the last, and of the last.
      step.kind = SizeStep::Kind::kChunkPiece;
      step.chunks = inner->i(c10::attr::chunks);
      step.dim = inner->i(c10::attr::dim);
      slot[inner->outputs()[0]] = static_cast<int>(steps.size());
      steps.push_back(step);
      step.kind = SizeStep::Kind::kLastChunkPiece;
      slot[inner->outputs()[1]] = static_cast<int>(steps.size());
      steps.push_back(std::move(step));
      continue;
    }
    slot[inner->output()] = static_cast<int>(steps.size());
    steps.push_back(std::move(step));
  }
  // Each output: its slot, and whether it may be None (a _size_if_not_equal).
  std::vector<int> outputs;
  for (const Value* out : subgraph.outputs()) outputs.push_back(slot.at(out));
  const size_t num_inputs = subgraph.inputs().size();
  return [steps, outputs, num_inputs](torch::jit::Stack& stack) {
    // A slot holds sizes, or nothing for a _size_if_not_equal of equal sizes.
    c10::SmallVector<c10::optional<Sizes>, 64> slots(steps.size());
    for (size_t s = 0; s < steps.size(); ++s) {
      const SizeStep& step = steps[s];
      switch (step.kind) {
        case SizeStep::Kind::kSizeOf: {
          const at::Tensor& t = torch::jit::peek(stack, step.args[0], num_inputs).toTensor();
          slots[s] = Sizes(t.sizes().begin(), t.sizes().end());
          break;
        }
        case SizeStep::Kind::kBroadcast: {
          // As prim::BroadcastSizes: at::infer_size raises eager's error.
          std::vector<int64_t> shape(slots[step.args[0]]->begin(), slots[step.args[0]]->end());
          for (size_t a = 1; a < step.args.size(); ++a) {
            shape = at::infer_size(shape, *slots[step.args[a]]);
          }
          slots[s] = Sizes(shape.begin(), shape.end());
          break;
        }
        case SizeStep::Kind::kChunkPiece:
        case SizeStep::Kind::kLastChunkPiece:
          slots[s] = chunkPiece(*slots[step.args[0]], step.chunks, step.dim,
                                step.kind == SizeStep::Kind::kLastChunkPiece);
          break;
        case SizeStep::Kind::kIfNotEqual:
          if (*slots[step.args[0]] != *slots[step.args[1]]) slots[s] = slots[step.args[0]];
          break;
      }
    }
    torch::jit::drop(stack, num_inputs);
    for (int out : outputs) {
      if (!slots[out]) {
        stack.emplace_back();
      } else {
        stack.emplace_back(std::vector<int64_t>(slots[out]->begin(), slots[out]->end()));
      }
    }
  };
}

}  // namespace torch_fuser
