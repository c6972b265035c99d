"""Word vectors for the embed stage: gensim Word2Vec / FastText and their evaluation (word_vectors), GloVe in
torch (glove)."""
