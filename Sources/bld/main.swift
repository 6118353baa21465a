import BlendedLatentCommand
import TensorCore

// Freed activations stay in the heap (on huge pages) for the next network call; the editor releases them
// between its phases. BLD_DEFAULT_MALLOC=1 keeps glibc's defaults (TensorCore's ThreadsAndMemory article).
AllocatorTuning.keepLargeBuffersInHeap()
BLDCommand.main()
