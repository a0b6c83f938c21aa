//! Trellis's gRPC contracts, generated from `proto/` at build time.
//!
//! Each service's package `trellis.<service>.v1` is a module here; [`FILE_DESCRIPTOR_SET`]
//! holds every file's descriptor so that servers can offer reflection.

/// The encoded `FileDescriptorSet` of every Trellis proto file.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/trellis_descriptor.bin"));

pub mod library {
    pub mod v1 {
        tonic::include_proto!("trellis.library.v1");
    }
}

pub mod imports {
    pub mod v1 {
        tonic::include_proto!("trellis.imports.v1");
    }
}

pub mod tokens {
    pub mod v1 {
        tonic::include_proto!("trellis.tokens.v1");
    }
}

pub mod refresh {
    pub mod v1 {
        tonic::include_proto!("trellis.refresh.v1");
    }
}
