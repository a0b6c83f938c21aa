//! Calling a gRPC method by its name with a JSON body, as grpcurl does: the request and
//! response types come from the server's reflection service, and the messages are dynamic.

use bytes::{Buf, BufMut};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, MethodDescriptor};
use prost_types::FileDescriptorProto;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::metadata::MetadataValue;
use tonic::{Request, Status};
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use trellis_platform::client::TracedChannel;

/// A caller that knows nothing of Trellis's types until reflection tells it.
pub struct ReflectionCaller {
    channel: TracedChannel,
    pool: DescriptorPool,
}

impl ReflectionCaller {
    pub fn new(channel: TracedChannel) -> Self {
        Self {
            channel,
            pool: DescriptorPool::new(),
        }
    }

    /// Calls `method` (`package.Service/Method` or `package.Service.Method`) with `body` and
    /// the given metadata headers (`name: value`); returns the response as JSON.
    pub async fn call(
        &mut self,
        method: &str,
        body: &str,
        headers: &[(String, String)],
    ) -> Result<serde_json::Value, Status> {
        let descriptor = self.descriptor(method).await?;
        let mut deserializer =
            serde_json::Deserializer::from_str(if body.trim().is_empty() { "{}" } else { body });
        let message = DynamicMessage::deserialize(descriptor.input(), &mut deserializer)
            .map_err(|error| Status::invalid_argument(format!("bad request JSON: {error}")))?;
        let response = self.call_message(&descriptor, message, headers).await?;
        serde_json::to_value(&response).map_err(|error| Status::internal(error.to_string()))
    }

    /// The descriptor of `method` (`package.Service/Method` or `package.Service.Method`).
    pub async fn descriptor(&mut self, method: &str) -> Result<MethodDescriptor, Status> {
        let (service, name) = method
            .rsplit_once(['/', '.'])
            .ok_or_else(|| Status::invalid_argument(format!("not a method name: {method}")))?;
        self.method(service, name).await
    }

    /// Calls `method` with a message already built, and the given metadata headers.
    pub async fn call_message(
        &self,
        method: &MethodDescriptor,
        message: DynamicMessage,
        headers: &[(String, String)],
    ) -> Result<DynamicMessage, Status> {
        let mut request = Request::new(message);
        for (key, value) in headers {
            let key = tonic::metadata::MetadataKey::from_bytes(key.to_ascii_lowercase().as_bytes())
                .map_err(|_| Status::invalid_argument(format!("bad header name {key}")))?;
            let value = MetadataValue::try_from(value.as_str())
                .map_err(|_| Status::invalid_argument("bad header value"))?;
            request.metadata_mut().insert(key, value);
        }
        let mut grpc = tonic::client::Grpc::new(self.channel.clone())
            .max_encoding_message_size(usize::MAX)
            .max_decoding_message_size(64 * 1024 * 1024);
        grpc.ready()
            .await
            .map_err(|error| Status::unavailable(error.to_string()))?;
        let path = PathAndQuery::try_from(format!(
            "/{}/{}",
            method.parent_service().full_name(),
            method.name()
        ))
        .map_err(|_| Status::invalid_argument("bad method path"))?;
        let codec = DynamicCodec {
            output: method.output(),
        };
        Ok(grpc.unary(request, path, codec).await?.into_inner())
    }

    async fn method(&mut self, service: &str, name: &str) -> Result<MethodDescriptor, Status> {
        if self.pool.get_service_by_name(service).is_none() {
            self.load_symbol(service).await?;
        }
        self.pool
            .get_service_by_name(service)
            .ok_or_else(|| Status::not_found(format!("service {service} is not reflected")))?
            .methods()
            .find(|method| method.name() == name)
            .ok_or_else(|| Status::not_found(format!("no method {name} in {service}")))
    }

    /// Fetches the file that defines `symbol`, with every file it imports.
    async fn load_symbol(&mut self, symbol: &str) -> Result<(), Status> {
        let mut client = ServerReflectionClient::new(self.channel.clone());
        let mut files: Vec<FileDescriptorProto> = Vec::new();
        let mut wanted = vec![MessageRequest::FileContainingSymbol(symbol.to_owned())];
        while let Some(request) = wanted.pop() {
            let request = ServerReflectionRequest {
                host: String::new(),
                message_request: Some(request),
            };
            let mut stream = client
                .server_reflection_info(tokio_stream::iter([request]))
                .await?
                .into_inner();
            let Some(response) = stream.message().await? else {
                continue;
            };
            let Some(MessageResponse::FileDescriptorResponse(found)) = response.message_response
            else {
                return Err(Status::not_found(format!(
                    "reflection does not know {symbol}"
                )));
            };
            for bytes in found.file_descriptor_proto {
                let file = FileDescriptorProto::decode(bytes.as_slice())
                    .map_err(|error| Status::internal(error.to_string()))?;
                if files.iter().any(|known| known.name == file.name) {
                    continue;
                }
                for dependency in &file.dependency {
                    let known = files.iter().any(|f| f.name.as_deref() == Some(dependency))
                        || self.pool.get_file_by_name(dependency).is_some();
                    if !known {
                        wanted.push(MessageRequest::FileByFilename(dependency.clone()));
                    }
                }
                files.push(file);
            }
        }
        self.pool
            .add_file_descriptor_protos(files)
            .map_err(|error| Status::internal(error.to_string()))
    }
}

struct DynamicCodec {
    output: MessageDescriptor,
}

impl Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        DynamicEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        DynamicDecoder(self.output.clone())
    }
}

struct DynamicEncoder;

impl Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        dst.put_slice(&item.encode_to_vec());
        Ok(())
    }
}

struct DynamicDecoder(MessageDescriptor);

impl Decoder for DynamicDecoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Self::Error> {
        let bytes = src.copy_to_bytes(src.remaining());
        DynamicMessage::decode(self.0.clone(), bytes)
            .map(Some)
            .map_err(|error| Status::internal(format!("undecodable response: {error}")))
    }
}
