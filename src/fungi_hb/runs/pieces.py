"""Work split into pieces: consecutive images of one augmentation epoch. Pieces are the unit that is
saved as it is finished (so a killed run resumes), and that processes share out (so a job shards).
The split depends on the number of images and the piece size only, never on the number of processes."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Piece:
    epoch: int  # augmentation epoch (0 for validation)
    start: int  # first image index
    stop: int  # one past the last image index

    @property
    def name(self) -> str:
        return f"e{self.epoch:03d}-{self.start:07d}-{self.stop:07d}"

    @property
    def num_images(self) -> int:
        return self.stop - self.start


def piece_images(batch_size: int, requested: int | None) -> int:
    """Images per piece: a multiple of the batch size (so pieces hold whole batches and every batch has
    the same images whatever the process count), about 64 unless asked otherwise."""
    target = requested if requested is not None else 64
    return max(1, -(-target // batch_size)) * batch_size


def plan_pieces(num_images: int, epochs: int, images_per_piece: int) -> list[Piece]:
    """Every piece of every epoch, in the order their rows are assembled (epoch, then image)."""
    return [
        Piece(epoch, start, min(start + images_per_piece, num_images))
        for epoch in range(epochs)
        for start in range(0, num_images, images_per_piece)
    ]


def pieces_of_rank(pieces: list[Piece], rank: int, world_size: int) -> list[Piece]:
    """This process's share: every ``world_size``-th piece, starting at its rank."""
    return pieces[rank::world_size]


def batches_of(piece: Piece, batch_size: int, num_images: int) -> list[list[int]]:
    """The batches of a piece as flat item indices (epoch * N + image) of a multi-epoch dataset."""
    base = piece.epoch * num_images
    return [
        list(range(base + start, base + min(start + batch_size, piece.stop)))
        for start in range(piece.start, piece.stop, batch_size)
    ]
