"""Keras model -> TensorFlow.js graph model + the metadata.json the browser reads."""
