// The forward declarations a rewrite of the pass declares itself against (graph_fuser.h
// lists the rewrites): JIT IR types and the pass's shared state, without their headers.
#pragma once

namespace torch {
namespace jit {
class AliasDb;
struct Block;
struct Graph;
struct Node;
struct Value;
}  // namespace jit
}  // namespace torch

namespace torch_fuser {

class FusionState;
class ProfileFacts;

}  // namespace torch_fuser
