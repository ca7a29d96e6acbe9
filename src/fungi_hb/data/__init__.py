"""Pascal VOC in the seed's layout or the standard VOCdevkit layout, and synthetic look-alikes."""
