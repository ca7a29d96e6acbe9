# The shell blocks of the published FUNGI HummingBird README that run our scripts: variable
# assignments and commands only (comments dropped). Test data for tests/test_published_commands.py.

BASE_DIR=support_index
mkdir -p $BASE_DIR/index
SEED=42
BATCH_SIZE=32
PATCH_SIZE=16
IMAGE_SIZE=512
BACKBONE=dino_vits16
AUGMENTATION_EPOCHS=1
DATASET_DIRECTORY=./VOCSegmentation
MEMORY_BANK_SIZE=102400
NUM_NEIGHBORS=5
NUM_LEAVES=512
NUM_LEAVES_TO_SEARCH=32
NUM_RERANK_CANDIDATES=120
ANISOTROPIC_QUANTIZATION_THRESHOLD=0.2
DIMENSIONS_PER_BLOCK=4
python create_memory_bank.py \
    --seed $SEED \
    --batch-size $BATCH_SIZE \
    --input-size $IMAGE_SIZE \
    --data-dir $DATASET_DIRECTORY \
    --model $BACKBONE \
    --memory-bank $BASE_DIR/features.pth \
    --memory-bank-labels $BASE_DIR/labels.pth \
    --scann-index $BASE_DIR/index \
    --memory-size $MEMORY_BANK_SIZE \
    --patch-size $PATCH_SIZE \
    --augmentation-epochs $AUGMENTATION_EPOCHS \
    --num-neighbors $NUM_NEIGHBORS \
    --num-leaves $NUM_LEAVES \
    --num-leaves-to-search $NUM_LEAVES_TO_SEARCH \
    --num-reordering-candidates $NUM_RERANK_CANDIDATES \
    --anisotropic-quantization-threshold $ANISOTROPIC_QUANTIZATION_THRESHOLD \
    --dimensions-per-block $DIMENSIONS_PER_BLOCK

SEED=42
BATCH_SIZE=4
PATCH_SIZE=16
IMAGE_SIZE=512
LATENT_DIM=96
BACKBONE=dino_vits16
AUGMENTATION_EPOCHS=1
DATASET_DIRECTORY=./VOCSegmentation
NUM_NEIGHBORS=2
MEMORY_BANK_SIZE=102400
NEGATIVE_BATCH_PERCENT=0.5
SUPPORT_DIR=support_index
LAYER_PATH=backbone.blocks.11.attn.proj
TEMPERATURE=0.02
NUM_NEIGHBORS=30
NUM_LEAVES=512
NUM_LEAVES_TO_SEARCH=32
NUM_RERANK_CANDIDATES=120
ANISOTROPIC_QUANTIZATION_THRESHOLD=0.2
DIMENSIONS_PER_BLOCK=4
python eval_gradients.py \
    --seed $SEED \
    --use-fp16 \
    --batch-size $BATCH_SIZE \
    --input-size $IMAGE_SIZE \
    --patch-size $PATCH_SIZE \
    --gradients-layer $LAYER_PATH \
    --data-dir $DATASET_DIRECTORY \
    --model $BACKBONE \
    --n-neighbors $NUM_NEIGHBORS \
    --memory-bank $SUPPORT_DIR/features.pth \
    --scann-index $SUPPORT_DIR/index \
    --memory-size $MEMORY_BANK_SIZE \
    --latent-dim $LATENT_DIM \
    --negative-batch-percent $NEGATIVE_BATCH_PERCENT \
    --temperature $TEMPERATURE \
    --num-neighbors $NUM_NEIGHBORS \
    --num-leaves $NUM_LEAVES \
    --num-leaves-to-search $NUM_LEAVES_TO_SEARCH \
    --num-reordering-candidates $NUM_RERANK_CANDIDATES \
    --anisotropic-quantization-threshold $ANISOTROPIC_QUANTIZATION_THRESHOLD \
    --dimensions-per-block $DIMENSIONS_PER_BLOCK

BASE_DIR=support_index_efficient
mkdir -p $BASE_DIR/index
SEED=42
BATCH_SIZE=32
PATCH_SIZE=16
IMAGE_SIZE=512
BACKBONE=dino_vits16
AUGMENTATION_EPOCHS=8
DATASET_DIRECTORY=./VOCSegmentation
NUM_NEIGHBORS=5
NUM_LEAVES=512
NUM_LEAVES_TO_SEARCH=32
NUM_RERANK_CANDIDATES=120
ANISOTROPIC_QUANTIZATION_THRESHOLD=0.2
DIMENSIONS_PER_BLOCK=4
TRAIN_SAMPLES=83
python create_memory_bank.py \
    --seed $SEED \
    --batch-size $BATCH_SIZE \
    --input-size $IMAGE_SIZE \
    --data-dir $DATASET_DIRECTORY \
    --model $BACKBONE \
    --memory-bank $BASE_DIR/features.pth \
    --memory-bank-labels $BASE_DIR/labels.pth \
    --scann-index $BASE_DIR/index \
    --patch-size $PATCH_SIZE \
    --augmentation-epochs $AUGMENTATION_EPOCHS \
    --num-neighbors $NUM_NEIGHBORS \
    --num-leaves $NUM_LEAVES \
    --num-leaves-to-search $NUM_LEAVES_TO_SEARCH \
    --num-reordering-candidates $NUM_RERANK_CANDIDATES \
    --anisotropic-quantization-threshold $ANISOTROPIC_QUANTIZATION_THRESHOLD \
    --dimensions-per-block $DIMENSIONS_PER_BLOCK \
    --num-train-samples $TRAIN_SAMPLES

SEED=42
BATCH_SIZE=4
PATCH_SIZE=16
IMAGE_SIZE=512
LATENT_DIM=96
BACKBONE=dino_vits16
AUGMENTATION_EPOCHS=8
DATASET_DIRECTORY=./VOCSegmentation
NUM_NEGATIVE_NEIGHBORS=2
NEGATIVE_BATCH_PERCENT=0.5
SUPPORT_DIR=support_index_efficient
LAYER_PATH=backbone.blocks.11.attn.proj
TEMPERATURE=0.1
NUM_NEIGHBORS=90
NUM_LEAVES=512
NUM_LEAVES_TO_SEARCH=256
NUM_RERANK_CANDIDATES=1800
ANISOTROPIC_QUANTIZATION_THRESHOLD=0.2
DIMENSIONS_PER_BLOCK=4
TRAIN_SAMPLES=83
python eval_gradients.py \
    --seed $SEED \
    --use-fp16 \
    --batch-size $BATCH_SIZE \
    --input-size $IMAGE_SIZE \
    --patch-size $PATCH_SIZE \
    --gradients-layer $LAYER_PATH \
    --data-dir $DATASET_DIRECTORY \
    --model $BACKBONE \
    --num-negative-neighbors $NUM_NEGATIVE_NEIGHBORS \
    --memory-bank $SUPPORT_DIR/features.pth \
    --scann-index $SUPPORT_DIR/index \
    --latent-dim $LATENT_DIM \
    --negative-batch-percent $NEGATIVE_BATCH_PERCENT \
    --temperature $TEMPERATURE \
    --num-neighbors $NUM_NEIGHBORS \
    --num-leaves $NUM_LEAVES \
    --num-leaves-to-search $NUM_LEAVES_TO_SEARCH \
    --num-reordering-candidates $NUM_RERANK_CANDIDATES \
    --anisotropic-quantization-threshold $ANISOTROPIC_QUANTIZATION_THRESHOLD \
    --dimensions-per-block $DIMENSIONS_PER_BLOCK \
    --num-train-samples $TRAIN_SAMPLES
