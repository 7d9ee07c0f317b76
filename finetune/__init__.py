"""glue-tune-lab's engine: fine-tune BERT-style encoders on GLUE four ways, evaluate, save, predict."""
