import EmbeddingCache

/// The embedding cache's record of how images were preprocessed (its name, `Preprocessing`,
/// clashes with Backbones' and its module's name with its main type, so it is aliased here
/// where only EmbeddingCache is imported).
typealias CachePreprocessing = Preprocessing
